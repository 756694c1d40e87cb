"""Terse factories of valid events about one debtor, at day offsets from T."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from recaudo.contracts.records import (
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    DebtorProfile,
    DebtorView,
    Event,
)
from recaudo.view import ApplyResult, DebtorState, apply, snapshot

DEBTOR = "D-1"
ACCOUNT = "A-1"
T = datetime(2026, 10, 1, 12, tzinfo=UTC)


def at(days: float) -> datetime:
    return T + timedelta(days=days)


def day(days: int) -> date:
    return (T + timedelta(days=days)).date()


def debt(type_: str, when: float, account: str = ACCOUNT, **payload: Any) -> DebtEvent:
    return DebtEvent(
        event_id=payload.pop("event_id", uuid.uuid4()),
        occurred_at=at(when),
        source="core-banking",
        debtor_id=DEBTOR,
        account_id=account,
        type=type_,
        payload=payload,
    )


def opened(
    when: float = -30,
    balance: int = 100_000,
    dpd: int = 0,
    instalment: int | None = 10_000,
    account: str = ACCOUNT,
    **kw: Any,
) -> DebtEvent:
    return debt(
        "DEBT_OPENED",
        when,
        account,
        principal_minor=120_000,
        currency=kw.pop("currency", "USD"),
        balance_minor=balance,
        product=kw.pop("product", "card"),
        days_past_due=dpd,
        instalment_minor=instalment,
        **kw,
    )


def missed(
    n: int, due: int, when: float | None = None, amount: int = 10_000, **kw: Any
) -> DebtEvent:
    return debt(
        "PAYMENT_MISSED",
        due + 1 if when is None else when,
        instalment_number=n,
        amount_minor=amount,
        currency="USD",
        due_date=day(due),
        **kw,
    )


def instalment_due(n: int, due: int, when: float, amount: int = 10_000) -> DebtEvent:
    return debt(
        "INSTALMENT_DUE",
        when,
        instalment_number=n,
        amount_minor=amount,
        currency="USD",
        due_date=day(due),
    )


def paid(pid: str, when: float, amount: int = 10_000, **kw: Any) -> DebtEvent:
    return debt("PAYMENT_RECEIVED", when, payment_id=pid, amount_minor=amount, currency="USD", **kw)


def dpd(days: int, when: float, balance: int = 100_000, **kw: Any) -> DebtEvent:
    return debt(
        "DAYS_PAST_DUE_UPDATED",
        when,
        days_past_due=days,
        balance_minor=balance,
        currency=kw.pop("currency", "USD"),
        **kw,
    )


def promise(pid: str, when: float, by: int, amount: int = 10_000, **kw: Any) -> DebtEvent:
    return debt(
        "PROMISE_TO_PAY",
        when,
        promise_id=pid,
        amount_minor=amount,
        currency="USD",
        promised_date=day(by),
        **kw,
    )


def profile(when: float, **kw: Any) -> DebtorProfile:
    data: dict[str, Any] = {
        "occurred_at": at(when),
        "source": "crm",
        "debtor_id": DEBTOR,
        "preferred_language": "es",
        "time_zone": "America/Bogota",
        "country": "CO",
        "jurisdiction": "co_ley_2300",
        "contact_points": [
            {"channel": "sms", "address": "+573001112233", "consent": True},
            {"channel": "email", "address": "d1@example.co", "consent": True},
            {"channel": "voice", "address": "+573001112233", "consent": True},
        ],
    }
    data.update(kw)
    return DebtorProfile(**data)


def response(
    status: str, when: float, channel: str = "sms", dispatch: str | None = "d1", **kw: Any
) -> ChannelResponse:
    return ChannelResponse(
        occurred_at=at(when),
        source="connector",
        debtor_id=DEBTOR,
        dispatch_id=dispatch,
        channel=channel,
        status=status,
        provider="sim",
        **kw,
    )


def decision(when: float, channel: str = "sms", dispatch: str = "d1", **kw: Any) -> ContactDecision:
    return ContactDecision(
        occurred_at=at(when),
        source="orchestrator",
        debtor_id=DEBTOR,
        trigger="payment_missed",
        step=0,
        channel=channel,
        outcome=kw.pop("outcome", "DISPATCHED"),
        dispatch_id=dispatch,
        **kw,
    )


def run(
    events: Iterable[Event], state: DebtorState | None = None
) -> tuple[DebtorState, list[DebtEvent]]:
    """Apply ``events`` in order: the final state and everything derived."""
    out: list[DebtEvent] = []
    for event in events:
        result: ApplyResult = apply(state, event)
        state = result.state
        out.extend(result.derived)
    assert state is not None
    return state, out


def view(*events: Event) -> DebtorView:
    return snapshot(run(events)[0], DEBTOR)


def derived(*events: Event) -> list[DebtEvent]:
    return run(events)[1]


def kinds(events: list[DebtEvent]) -> list[tuple[str, str, str]]:
    """(type, from, to) of derived events, for readable assertions."""
    out: list[tuple[str, str, str]] = []
    for e in events:
        p = e.payload
        out.append(
            (
                e.type,
                str(getattr(p, "from_bucket", getattr(p, "previous_bucket", ""))),
                str(getattr(p, "to_bucket", getattr(p, "promise_id", ""))),
            )
        )
    return out


def plan(
    pid: str,
    when: float,
    first: int,
    count: int = 3,
    instalment: int = 10_000,
    total: int | None = None,
    frequency: str = "WEEKLY",
    **kw: Any,
) -> DebtEvent:
    return debt(
        "PAYMENT_PLAN_AGREED",
        when,
        plan_id=pid,
        instalment_count=count,
        instalment_minor=instalment,
        currency="USD",
        first_due_date=day(first),
        frequency=frequency,
        total_minor=count * instalment if total is None else total,
        **kw,
    )
