"""Valid sample records, for examples, tests and benchmarks.

A debtor in Colombia with an SMS and an email contact point, and a missed
instalment on one account; every field can be overridden.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from recaudo.contracts.records import DebtEvent, DebtorProfile

#: the instant the samples happen at unless told otherwise
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def debt_event(
    debtor_id: str = "D-1",
    type: str = "PAYMENT_MISSED",
    payload: dict[str, Any] | None = None,
    account_id: str = "A-1",
    occurred_at: datetime = T0,
    **kw: Any,
) -> DebtEvent:
    """A debt event (a missed instalment unless ``type`` and ``payload`` say otherwise)."""
    payload = payload or {
        "instalment_number": 3,
        "amount_minor": 12_500,
        "currency": "USD",
        "due_date": "2026-11-01",
    }
    return DebtEvent(
        event_id=kw.pop("event_id", uuid.uuid4()),
        occurred_at=occurred_at,
        source=kw.pop("source", "core-banking"),
        debtor_id=debtor_id,
        account_id=account_id,
        type=type,
        payload=payload,
        **kw,
    )


def debtor_profile(debtor_id: str = "D-1", **kw: Any) -> DebtorProfile:
    """A debtor profile; keyword arguments replace its fields."""
    data: dict[str, Any] = {
        "occurred_at": T0,
        "source": "crm",
        "debtor_id": debtor_id,
        "preferred_language": "es",
        "time_zone": "America/Bogota",
        "country": "CO",
        "jurisdiction": "co_ley_2300",
        "contact_points": [
            {"channel": "sms", "address": "+573001112233", "consent": True},
            {"channel": "email", "address": "d1@example.co", "consent": True},
        ],
    }
    data.update(kw)
    return DebtorProfile.model_validate(data)
