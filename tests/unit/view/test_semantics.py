"""What the view says about a debtor, rule by rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from recaudo.events import ChannelResponse, DebtEvent, Envelope
from recaudo.portfolio import generate
from recaudo.view import DebtorState, apply, bucket_for, snapshot, tick
from tests.fixtures import debt_event, debtor_profile

T = datetime(2026, 10, 1, 12, tzinfo=UTC)


def at(days: float) -> datetime:
    return T + timedelta(days=days)


def opened(balance: int = 100_000, dpd: int = 0) -> DebtEvent:
    return debt_event(
        type="DEBT_OPENED",
        occurred_at=at(-30),
        payload={
            "principal_minor": 120_000,
            "currency": "USD",
            "balance_minor": balance,
            "product": "card",
            "days_past_due": dpd,
            "instalment_minor": 10_000,
        },
    )


def missed(n: int, due_day: int, amount: int = 10_000) -> DebtEvent:
    return debt_event(
        type="PAYMENT_MISSED",
        occurred_at=at(due_day + 1),
        payload={
            "instalment_number": n,
            "amount_minor": amount,
            "currency": "USD",
            "due_date": at(due_day).date(),
        },
    )


def paid(pid: str, when: float, amount: int = 10_000) -> DebtEvent:
    return debt_event(
        type="PAYMENT_RECEIVED",
        occurred_at=at(when),
        payload={"payment_id": pid, "amount_minor": amount, "currency": "USD"},
    )


def response(status: str, when: float, channel: str = "email", **kw: Any) -> ChannelResponse:
    return ChannelResponse(
        occurred_at=at(when),
        source="connector",
        debtor_id="D-1",
        dispatch_id=kw.pop("dispatch_id", "d1"),
        channel=channel,
        status=status,
        provider="sim",
        **kw,
    )


def view(*events: Envelope) -> Any:
    state: DebtorState | None = None
    for e in events:
        state = apply(state, e).state
    assert state is not None
    return snapshot(state, "D-1")


def derived(*events: Envelope) -> list[DebtEvent]:
    state: DebtorState | None = None
    out: list[DebtEvent] = []
    for e in events:
        result = apply(state, e)
        state = result.state
        out.extend(result.derived)
    return out


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "CURRENT"),
        (1, "DPD_1_30"),
        (30, "DPD_1_30"),
        (31, "DPD_31_60"),
        (60, "DPD_31_60"),
        (61, "DPD_61_90"),
        (90, "DPD_61_90"),
        (91, "DPD_90_PLUS"),
        (400, "DPD_90_PLUS"),
    ],
)
def test_bucket_boundaries(dpd: int, bucket: str) -> None:
    assert bucket_for(dpd) == bucket


def test_missed_payment_makes_it_overdue() -> None:
    v = view(
        opened(),
        missed(1, 0),
        paid("ignored-before", -10),
        debt_event(
            type="DAYS_PAST_DUE_UPDATED",
            occurred_at=at(-20),
            payload={"days_past_due": 0, "balance_minor": 100_000, "currency": "USD"},
        ),
        response("DELIVERED", 12),
    )
    account = v.accounts[0]
    assert account.overdue_minor == 10_000
    assert account.days_past_due == 12  # from the due date to the latest event time
    assert v.bucket == "DPD_1_30"


def test_late_arriving_payment_still_cures() -> None:
    # The payment was made on day 5 but reaches recaudo after everything else.
    v = view(opened(), missed(1, 0), response("DELIVERED", 20), paid("p1", 5))
    assert v.accounts[0].overdue_minor == 0
    assert v.accounts[0].status == "CURED"
    assert v.bucket == "CURRENT"


def test_cure_is_derived_once() -> None:
    events = derived(opened(), missed(1, 0), response("DELIVERED", 3), paid("p1", 5), paid("p1", 5))
    assert [e.type for e in events].count("DEBT_CURED") == 1
    bucket = [e for e in events if e.type == "BUCKET_CHANGED"]
    assert [(e.payload.from_bucket, e.payload.to_bucket) for e in bucket] == [  # type: ignore[union-attr]
        ("CURRENT", "DPD_1_30"),
        ("DPD_1_30", "CURRENT"),
    ]


def test_snapshot_days_past_due_is_authoritative() -> None:
    snap = debt_event(
        type="DAYS_PAST_DUE_UPDATED",
        occurred_at=at(1),
        payload={"days_past_due": 45, "balance_minor": 90_000, "currency": "USD"},
    )
    v = view(opened(), snap)
    assert (v.accounts[0].days_past_due, v.bucket) == (45, "DPD_31_60")
    assert v.accounts[0].overdue_minor == 20_000  # one instalment per 30 days, estimated
    later = view(opened(), snap, paid("p1", 2, 20_000))
    assert later.accounts[0].status == "CURED" and later.accounts[0].balance_minor == 70_000


def test_paying_everything_marks_paid() -> None:
    v = view(opened(balance=15_000), paid("p1", 1, 10_000), paid("p2", 2, 5_000))
    assert v.accounts[0].status == "PAID" and v.totals == []


def test_promise_kept_and_broken() -> None:
    promise = debt_event(
        type="PROMISE_TO_PAY",
        occurred_at=at(1),
        payload={
            "promise_id": "P1",
            "amount_minor": 10_000,
            "currency": "USD",
            "promised_date": at(5).date(),
        },
    )
    assert view(opened(), promise).promises[0].status == "PENDING"
    assert view(opened(), promise, paid("p1", 4)).promises[0].status == "KEPT"
    assert view(opened(), promise, paid("p1", 7)).promises[0].status == "BROKEN"
    broken = [
        e
        for e in derived(opened(), promise, response("DELIVERED", 6))
        if e.type == "PROMISE_BROKEN"
    ]
    assert len(broken) == 1 and broken[0].payload.promise_id == "P1"  # type: ignore[union-attr]


def test_tick_breaks_a_promise_with_no_event() -> None:
    promise = debt_event(
        type="PROMISE_TO_PAY",
        occurred_at=at(1),
        payload={
            "promise_id": "P1",
            "amount_minor": 10_000,
            "currency": "USD",
            "promised_date": at(5).date(),
        },
    )
    state = apply(apply(None, opened()).state, promise).state
    assert tick(state, at(3), "D-1").derived == []
    assert [e.type for e in tick(state, at(6), "D-1").derived] == ["PROMISE_BROKEN"]
    assert tick(state, at(6), "D-1").derived == []


def test_bounce_invalidates_email_until_a_newer_profile() -> None:
    profile = debtor_profile(debtor_id="D-1", occurred_at=at(0))
    v = view(profile, response("BOUNCED", 1))
    email = next(c for c in v.channels if c.channel == "email")
    assert not email.valid and email.failed == 1
    restored = view(
        profile, response("BOUNCED", 1), debtor_profile(debtor_id="D-1", occurred_at=at(2))
    )
    assert next(c for c in restored.channels if c.channel == "email").valid


def test_opt_out_and_counts() -> None:
    v = view(
        debtor_profile(debtor_id="D-1", occurred_at=at(0)),
        response("ACCEPTED", 1, "sms"),
        response("DELIVERED", 1.1, "sms"),
        response("REPLIED", 2, "sms", text="BAJA"),
        response("OPTED_OUT", 2, "sms"),
        response("DELIVERED", 1.1, "sms"),
    )
    sms = next(c for c in v.channels if c.channel == "sms")
    assert (sms.sent, sms.delivered, sms.replied, sms.opted_out) == (1, 1, 1, True)
    assert sms.last_contact_at == at(1)


def test_newest_profile_wins_whatever_the_order() -> None:
    old = debtor_profile(debtor_id="D-1", occurred_at=at(0), preferred_language="en")
    new = debtor_profile(debtor_id="D-1", occurred_at=at(1), preferred_language="es")
    assert view(new, old).language == view(old, new).language == "es"


def test_typical_debtor_state_is_small() -> None:
    states: dict[str, DebtorState | None] = {}
    for event in generate(200, days=30):
        states[event.debtor_id] = apply(states.get(event.debtor_id), event).state
    sizes = sorted(len(s.encode()) for s in states.values() if s is not None)
    assert sizes[len(sizes) // 2] <= 2048  # the median debtor, a month of events
