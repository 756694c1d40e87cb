"""Debt stories the integration tests publish: built once, here."""

from __future__ import annotations

from datetime import datetime, timedelta

from recaudo.contracts.records import DebtEvent


def open_debt_with_a_missed_instalment(
    debtor: str, account: str, noon: datetime
) -> list[DebtEvent]:
    """A card opened 40 days before ``noon`` (COP 400,000 owed) whose third
    instalment, due three days before, was reported missed half an hour
    before ``noon``: the missed payment starts an outreach."""
    due = (noon - timedelta(days=3)).date()
    opened = DebtEvent(
        occurred_at=noon - timedelta(days=40),
        source="core-banking",
        debtor_id=debtor,
        account_id=account,
        type="DEBT_OPENED",
        payload={
            "principal_minor": 50_000_000,
            "currency": "COP",
            "balance_minor": 40_000_000,
            "product": "card",
            "instalment_minor": 2_000_000,
            "next_due_date": due,
        },
    )
    missed = DebtEvent(
        occurred_at=noon - timedelta(minutes=30),
        source="core-banking",
        debtor_id=debtor,
        account_id=account,
        type="PAYMENT_MISSED",
        payload={
            "instalment_number": 3,
            "amount_minor": 2_000_000,
            "currency": "COP",
            "due_date": due,
        },
    )
    return [opened, missed]
