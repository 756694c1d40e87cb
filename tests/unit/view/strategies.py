"""Random but plausible event histories of one debtor, for property tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from recaudo.events import (
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    DebtorProfile,
    Envelope,
)

DEBTOR = "D-prop"
START = datetime(2026, 9, 1, tzinfo=UTC)
ACCOUNTS = ("A1", "A2")


@st.composite
def moments(draw: st.DrawFn) -> datetime:
    return START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 60)))


def _due(draw: st.DrawFn) -> date:
    return (START + timedelta(days=draw(st.integers(0, 60)))).date()


@st.composite
def debt_events(draw: st.DrawFn) -> DebtEvent:
    account = draw(st.sampled_from(ACCOUNTS))
    kind = draw(
        st.sampled_from(
            [
                "DEBT_OPENED",
                "DAYS_PAST_DUE_UPDATED",
                "INSTALMENT_DUE",
                "PAYMENT_MISSED",
                "PAYMENT_RECEIVED",
                "PROMISE_TO_PAY",
                "DISPUTE_OPENED",
                "DISPUTE_RESOLVED",
                "DEBT_SETTLED",
            ]
        )
    )
    amount = draw(st.integers(1, 50)) * 1000
    payload: dict[str, Any]
    if kind == "DEBT_OPENED":
        payload = {
            "principal_minor": 200_000,
            "currency": "USD",
            "balance_minor": draw(st.integers(1, 200)) * 1000,
            "product": "card",
            "days_past_due": draw(st.integers(0, 120)),
            "instalment_minor": 10_000,
        }
    elif kind == "DAYS_PAST_DUE_UPDATED":
        payload = {
            "days_past_due": draw(st.integers(0, 150)),
            "balance_minor": draw(st.integers(0, 200)) * 1000,
            "currency": "USD",
        }
    elif kind in ("INSTALMENT_DUE", "PAYMENT_MISSED"):
        payload = {
            "instalment_number": draw(st.integers(1, 4)),
            "amount_minor": amount,
            "currency": "USD",
            "due_date": _due(draw),
        }
    elif kind == "PAYMENT_RECEIVED":
        payload = {
            "payment_id": f"p{draw(st.integers(1, 5))}",
            "amount_minor": amount,
            "currency": "USD",
        }
    elif kind == "PROMISE_TO_PAY":
        payload = {
            "promise_id": f"pr{draw(st.integers(1, 2))}",
            "amount_minor": amount,
            "currency": "USD",
            "promised_date": _due(draw),
        }
    elif kind == "DISPUTE_OPENED":
        payload = {"dispute_id": "ds1", "reason": "not mine"}
    elif kind == "DISPUTE_RESOLVED":
        payload = {
            "dispute_id": "ds1",
            "outcome": draw(st.sampled_from(["UPHELD", "REJECTED", "WITHDRAWN"])),
        }
    else:
        payload = {"settled_minor": amount, "currency": "USD"}
    return DebtEvent(
        event_id=draw(st.uuids()),
        occurred_at=draw(moments()),
        source="bank",
        debtor_id=DEBTOR,
        account_id=account,
        type=kind,
        payload=payload,
    )


@st.composite
def profiles(draw: st.DrawFn) -> DebtorProfile:
    return DebtorProfile(
        event_id=draw(st.uuids()),
        occurred_at=draw(moments()),
        source="crm",
        debtor_id=DEBTOR,
        preferred_language=draw(st.sampled_from(["es", "en"])),
        time_zone="America/Bogota",
        country="CO",
        jurisdiction="co_ley_2300",
        contact_points=[
            {"channel": "sms", "address": "+573001112233", "consent": draw(st.booleans())},
            {
                "channel": "email",
                "address": "x@example.co",
                "consent": True,
                "valid": draw(st.booleans()),
            },
        ],
        flags={"vulnerable": draw(st.booleans())},
    )


@st.composite
def responses(draw: st.DrawFn) -> ChannelResponse:
    dispatch = f"d{draw(st.integers(1, 3))}"
    return ChannelResponse(
        event_id=draw(st.uuids()),
        occurred_at=draw(moments()),
        source="connector",
        debtor_id=DEBTOR,
        dispatch_id=dispatch,
        channel=draw(st.sampled_from(["sms", "email"])),
        status=draw(
            st.sampled_from(
                ["ACCEPTED", "DELIVERED", "READ", "REPLIED", "BOUNCED", "FAILED", "OPTED_OUT"]
            )
        ),
        provider="sim",
        text=draw(st.sampled_from([None, "ya pagué", "STOP"])),
        error_code=draw(st.sampled_from([None, "21211"])),
    )


@st.composite
def decisions(draw: st.DrawFn) -> ContactDecision:
    outcome = draw(st.sampled_from(["DISPATCHED", "DEFERRED", "SUPPRESSED"]))
    return ContactDecision(
        event_id=draw(st.uuids()),
        occurred_at=draw(moments()),
        source="orchestrator",
        debtor_id=DEBTOR,
        trigger="payment_missed",
        step=0,
        channel=draw(st.sampled_from(["sms", "email"])),
        outcome=outcome,
        dispatch_id=f"d{draw(st.integers(1, 3))}" if outcome == "DISPATCHED" else None,
    )


def histories(max_size: int = 40) -> st.SearchStrategy[list[Envelope]]:
    return st.lists(
        st.one_of(
            debt_events(), debt_events(), debt_events(), profiles(), responses(), decisions()
        ),
        min_size=1,
        max_size=max_size,
    ).map(lambda events: list({e.event_id: e for e in events}.values()))


def fresh_id() -> uuid.UUID:
    return uuid.uuid4()
