"""A debtor in arrears the portal can show, as a CRM and a core-banking system
would describe them: for the portal's benchmark and its tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from recaudo.contracts.records import DebtEvent, DebtorProfile, Event


def debtor_in_arrears(
    debtor_id: str,
    account_id: str,
    *,
    now: datetime,
    balance_minor: int,
    days_past_due: int,
    principal_minor: int | None = None,
    instalment_minor: int | None = None,
    source: str = "crm",
) -> list[Event]:
    """A Colombian debtor (Spanish, Bogotá, SMS with consent) with one card
    account ``days_past_due`` days overdue, opened the day before ``now``;
    the principal defaults to the balance, the instalment to a quarter of it."""
    return [
        DebtorProfile(
            occurred_at=now - timedelta(days=50),
            source=source,
            debtor_id=debtor_id,
            preferred_language="es",
            time_zone="America/Bogota",
            country="CO",
            jurisdiction="co_ley_2300",
            contact_points=[{"channel": "sms", "address": "+573001234567", "consent": True}],
        ),
        DebtEvent(
            occurred_at=now - timedelta(days=1),
            source=source,
            debtor_id=debtor_id,
            account_id=account_id,
            type="DEBT_OPENED",
            payload={
                "principal_minor": balance_minor if principal_minor is None else principal_minor,
                "currency": "COP",
                "balance_minor": balance_minor,
                "product": "card",
                "days_past_due": days_past_due,
                "instalment_minor": (
                    balance_minor // 4 if instalment_minor is None else instalment_minor
                ),
            },
        ),
    ]
