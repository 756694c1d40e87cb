"""A task as the desk reads it, and the debtor's view it acts on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from recaudo.contracts.records import AgentTask, ConversationTurn, DebtorView

T0 = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
TODAY = T0.date()
FORM = "form-0123456789abcdef"


def a_task(**update: Any) -> AgentTask:
    values: dict[str, Any] = {
        "occurred_at": T0,
        "source": "recaudo.conversation",
        "debtor_id": "D-CO-0001",
        "task_id": "task-0123456789abcdef0123",
        "account_id": "D-CO-0001-ACC-1",
        "reason": "hardship",
        "status": "OPEN",
        "priority": "HIGH",
        "transcript": [
            ConversationTurn(direction="INBOUND", channel="sms", text="hola", at=T0),
            ConversationTurn(direction="OUTBOUND", channel="sms", text="¿en qué?", at=T0),
            ConversationTurn(
                direction="INBOUND", channel="whatsapp", text="perdí mi trabajo", at=T0
            ),
        ],
        "created_at": T0,
    }
    values.update(update)
    return AgentTask.model_validate(values)


def a_view(currency: str = "COP", accounts: int = 1) -> DebtorView:
    return DebtorView.model_validate(
        {
            "occurred_at": T0,
            "source": "recaudo.view",
            "debtor_id": "D-CO-0001",
            "version": 3,
            "language": "es",
            "bucket": "DPD_1_30",
            "max_days_past_due": 12,
            "accounts": [
                {
                    "account_id": f"D-CO-0001-ACC-{n}",
                    "status": "OPEN",
                    "currency": currency,
                    "balance_minor": 40_000_000,
                    "overdue_minor": 2_000_000,
                    "days_past_due": 12,
                    "bucket": "DPD_1_30",
                    "next_due_date": date(2026, 12, 1),
                }
                for n in range(1, accounts + 1)
            ],
        }
    )
