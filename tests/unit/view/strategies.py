"""Random but plausible event histories of one debtor, for property tests.

A history mixes 1-3 accounts (openings, instalments due, missed and received
payments, days-past-due snapshots, promises, payment plans, disputes, the odd settlement or
write-off, derived events looped back), profile updates, contact decisions
and channel responses (bounces, failures, opt-outs, replies). Identifiers
come from small pools and times from a coarse grid so that natural keys
collide and events share a millisecond: the cases where arrival order could
leak into the result. Within one history a payment id, an instalment number
or a promise id always carries the same amounts and dates (reports of one
fact may differ in time only), as a bank's feed does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from recaudo.contracts.records import (
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    DebtorProfile,
    Event,
)
from tests.unit.view.builders import DEBTOR, T

ACCOUNTS = ("A1", "A2", "A3")
CURRENCY = {"A1": "USD", "A2": "USD", "A3": "COP"}
DAYS = 75


@st.composite
def moments(draw: st.DrawFn) -> Any:
    # Hours on a coarse grid: plenty of events in the same millisecond.
    return T + timedelta(hours=draw(st.integers(0, DAYS * 24 // 6)) * 6)


def _day(draw: st.DrawFn) -> Any:
    return (T + timedelta(days=draw(st.integers(-10, DAYS)))).date()


def _amount(draw: st.DrawFn) -> int:
    return draw(st.sampled_from([5_000, 10_000, 10_000, 20_000, 35_000]))


@st.composite
def plans(draw: st.DrawFn) -> dict[str, tuple[int, Any]]:
    """What each natural key of a history stands for: (amount, date)."""
    keys = [f"p{i}" for i in range(1, 7)] + [f"n{i}" for i in range(1, 6)]
    keys += [f"pr{i}" for i in range(1, 4)] + ["pl1", "pl2"]
    return {k: (_amount(draw), _day(draw)) for k in keys}


@st.composite
def debt_events(
    draw: st.DrawFn, accounts: tuple[str, ...], plan: dict[str, tuple[int, Any]]
) -> DebtEvent:
    account = draw(st.sampled_from(accounts))
    currency = CURRENCY[account]
    kind = draw(
        st.sampled_from(
            [
                "DEBT_OPENED",
                "INSTALMENT_DUE",
                "PAYMENT_MISSED",
                "PAYMENT_MISSED",
                "DAYS_PAST_DUE_UPDATED",
                "DAYS_PAST_DUE_UPDATED",
                "PAYMENT_RECEIVED",
                "PAYMENT_RECEIVED",
                "PROMISE_TO_PAY",
                "PAYMENT_PLAN_AGREED",
                "DISPUTE_OPENED",
                "DISPUTE_RESOLVED",
                "DEBT_SETTLED",
                "DEBT_WRITTEN_OFF",
                "BUCKET_CHANGED",
            ]
        )
    )
    payload: dict[str, Any]
    if kind == "DEBT_OPENED":
        payload = {
            "principal_minor": 200_000,
            "currency": currency,
            "balance_minor": draw(st.sampled_from([40_000, 100_000, 150_000])),
            "product": draw(st.sampled_from(["card", "loan"])),
            "days_past_due": draw(st.sampled_from([0, 0, 12, 45, 95])),
            "instalment_minor": draw(st.sampled_from([None, 10_000])),
            "next_due_date": draw(st.sampled_from([None, (T + timedelta(days=10)).date()])),
        }
    elif kind in ("INSTALMENT_DUE", "PAYMENT_MISSED"):
        number = draw(st.integers(1, 5))
        amount, due = plan[f"n{number}"]
        payload = {
            "instalment_number": number,
            "amount_minor": amount,
            "currency": currency,
            "due_date": due,
        }
    elif kind == "DAYS_PAST_DUE_UPDATED":
        payload = {
            "days_past_due": draw(st.sampled_from([0, 0, 1, 5, 29, 30, 31, 45, 60, 61, 91, 120])),
            "balance_minor": draw(st.sampled_from([0, 30_000, 90_000, 100_000])),
            "currency": currency,
        }
    elif kind == "PAYMENT_RECEIVED":
        payment_id = f"p{draw(st.integers(1, 6))}"
        payload = {
            "payment_id": payment_id,
            "amount_minor": plan[payment_id][0],
            "currency": currency,
        }
    elif kind == "PROMISE_TO_PAY":
        promise_id = f"pr{draw(st.integers(1, 3))}"
        amount, promised = plan[promise_id]
        payload = {
            "promise_id": promise_id,
            "amount_minor": amount,
            "currency": currency,
            "promised_date": promised,
        }
    elif kind == "PAYMENT_PLAN_AGREED":
        plan_id = f"pl{draw(st.integers(1, 2))}"
        amount, first = plan[plan_id]
        count = 2 if plan_id == "pl1" else 4
        payload = {
            "plan_id": plan_id,
            "instalment_count": count,
            "instalment_minor": amount,
            "currency": currency,
            "first_due_date": first,
            "frequency": "WEEKLY" if plan_id == "pl1" else "MONTHLY",
            "total_minor": amount * count - 1,
        }
    elif kind == "DISPUTE_OPENED":
        payload = {"dispute_id": f"ds{draw(st.integers(1, 2))}", "reason": "not mine"}
    elif kind == "DISPUTE_RESOLVED":
        payload = {
            "dispute_id": f"ds{draw(st.integers(1, 2))}",
            "outcome": draw(st.sampled_from(["UPHELD", "REJECTED", "WITHDRAWN"])),
        }
    elif kind == "DEBT_SETTLED":
        payload = {"settled_minor": 50_000, "currency": currency}
    elif kind == "DEBT_WRITTEN_OFF":
        payload = {"balance_minor": 80_000, "currency": currency, "reason": "uncollectable"}
    else:  # one of our own outputs, looped back
        payload = {"from_bucket": "CURRENT", "to_bucket": "DPD_1_30", "days_past_due": 3}
    return DebtEvent(
        event_id=draw(st.uuids()),
        occurred_at=draw(moments()),
        source="core-banking",
        debtor_id=DEBTOR,
        account_id=account,
        type=kind,
        payload=payload,
    )


@st.composite
def profiles(draw: st.DrawFn) -> DebtorProfile:
    consent_at = draw(st.one_of(st.none(), moments()))
    return DebtorProfile(
        event_id=draw(st.uuids()),
        occurred_at=draw(moments()),
        source="crm",
        debtor_id=DEBTOR,
        preferred_language=draw(st.sampled_from(["es", "en"])),
        time_zone=draw(st.sampled_from(["America/Bogota", "America/Mexico_City"])),
        country="CO",
        jurisdiction="co_ley_2300",
        risk_segment=draw(st.sampled_from([None, "low", "high"])),
        preferred_channel=draw(st.sampled_from([None, "sms", "email"])),
        contact_points=[
            {
                "channel": "sms",
                "address": "+573001112233",
                "consent": draw(st.booleans()),
                "consent_at": consent_at,
            },
            {
                "channel": "email",
                "address": draw(st.sampled_from(["x@example.co", "y@example.co"])),
                "consent": True,
                "valid": draw(st.booleans()),
            },
            {"channel": "voice", "address": "+573001112233", "consent": True},
        ],
        flags={"vulnerable": draw(st.booleans()), "bankruptcy": draw(st.booleans())},
    )


@st.composite
def responses(draw: st.DrawFn) -> ChannelResponse:
    status = draw(
        st.sampled_from(
            [
                "ACCEPTED",
                "SENT",
                "DELIVERED",
                "READ",
                "REPLIED",
                "BOUNCED",
                "FAILED",
                "EXPIRED",
                "OPTED_OUT",
                "CALL_ANSWERED",
                "CALL_RIGHT_PARTY",
                "CALL_NO_ANSWER",
                "OUTCOME_UNKNOWN",
            ]
        )
    )
    return ChannelResponse(
        event_id=draw(st.uuids()),
        occurred_at=draw(moments()),
        source="connector",
        debtor_id=DEBTOR,
        dispatch_id=draw(st.sampled_from([None, "d1", "d2", "d3", "d4", "d5", "d6"])),
        channel=draw(st.sampled_from(["sms", "email", "voice"])),
        status=status,
        provider="sim",
        text=draw(st.sampled_from([None, "ya pagué", "STOP", "Baja por favor"]))
        if status == "REPLIED"
        else None,
        error_code=draw(st.sampled_from([None, "30003"])) if status == "FAILED" else None,
    )


@st.composite
def decisions(draw: st.DrawFn) -> ContactDecision:
    outcome = draw(st.sampled_from(["DISPATCHED", "DISPATCHED", "DEFERRED", "SUPPRESSED"]))
    return ContactDecision(
        event_id=draw(st.uuids()),
        occurred_at=draw(moments()),
        source="orchestrator",
        debtor_id=DEBTOR,
        trigger="payment_missed",
        step=0,
        channel=draw(st.sampled_from(["sms", "email", "voice"])),
        outcome=outcome,
        dispatch_id=f"d{draw(st.integers(1, 6))}" if outcome == "DISPATCHED" else None,
    )


@st.composite
def histories(draw: st.DrawFn, max_size: int = 50) -> list[Event]:
    """Distinct events (by id) of one debtor."""
    accounts = ACCOUNTS[: draw(st.integers(1, 3))]
    account_events = debt_events(accounts, draw(plans()))
    events = draw(
        st.lists(
            st.one_of(
                account_events, account_events, account_events, profiles(), responses(), decisions()
            ),
            min_size=min(8, max_size),
            max_size=max_size,
        )
    )
    return list({e.event_id: e for e in events}.values())
