"""Random debtor views, policy contexts and feature sets for the learner's tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from recaudo.contracts.records import (
    CHANNELS,
    AccountView,
    ChannelView,
    DebtorView,
    DisputeView,
    PromiseView,
)
from recaudo.learning.actions import Action, candidate_actions
from recaudo.learning.features import Features
from recaudo.policy import PRESETS, Contact, DebtState, Flag, PolicyContext
from tests.unit.policy.builders import HOME

START = datetime(2024, 1, 1, tzinfo=UTC)
BUCKETS = ("CURRENT", "DPD_1_30", "DPD_31_60", "DPD_61_90", "DPD_90_PLUS")


@st.composite
def channel_views(draw: st.DrawFn, channel: str) -> ChannelView:
    return ChannelView(
        channel=channel,
        # Mostly reachable, so the learner usually has something to choose from.
        address=draw(st.sampled_from([None, "addr-1", "addr-1", "addr-1"])),
        consent=draw(st.sampled_from([True, True, True, False])),
        opted_out=draw(st.sampled_from([False, False, False, True])),
        valid=draw(st.sampled_from([True, True, True, False])),
        sent=draw(st.integers(0, 30)),
        delivered=draw(st.integers(0, 30)),
        read=draw(st.integers(0, 20)),
        replied=draw(st.integers(0, 10)),
        failed=draw(st.integers(0, 10)),
    )


@st.composite
def views(draw: st.DrawFn) -> DebtorView:
    """A debtor under a random preset, living in its home zone, with 1-2 accounts."""
    jurisdiction = draw(st.sampled_from(sorted(PRESETS)))
    zone, country, _ = HOME[jurisdiction]
    accounts = [
        AccountView(
            account_id=f"A{i}",
            status=draw(st.sampled_from(["OPEN"] * 6 + ["CURED", "PAID"])),
            currency="USD",
            balance_minor=draw(st.integers(0, 10_000_000)),
            overdue_minor=draw(st.integers(0, 500_000)),
            days_past_due=draw(st.integers(0, 200)),
            bucket=draw(st.sampled_from(BUCKETS)),
        )
        for i in range(1, draw(st.integers(1, 2)) + 1)
    ]
    at = START - timedelta(days=3)
    return DebtorView(
        occurred_at=at,
        source="test",
        debtor_id=draw(st.sampled_from(["D1", "D2", "D3", "D4"])),
        version=1,
        language=draw(st.sampled_from(["es", "pt", "en"])),
        time_zone=zone,
        country=country,
        jurisdiction=jurisdiction,
        risk_segment=draw(st.sampled_from([None, "low", "medium", "high"])),
        preferred_channel=draw(st.sampled_from([None, *CHANNELS])),
        flags={
            "vulnerable": draw(st.booleans()),
            "cease_and_desist": draw(st.sampled_from([False] * 9 + [True])),
        },
        bucket=accounts[0].bucket,
        max_days_past_due=max(a.days_past_due for a in accounts),
        accounts=accounts,
        promises=[
            PromiseView(
                promise_id=f"p{i}",
                account_id="A1",
                amount_minor=1000,
                currency="USD",
                promised_date=at.date(),
                status=draw(st.sampled_from(["PENDING", "KEPT", "BROKEN"])),
            )
            for i in range(draw(st.integers(0, 3)))
        ],
        disputes=[
            DisputeView(dispute_id="x1", account_id="A1", status=s, opened_at=at)
            for s in draw(st.lists(st.sampled_from(["OPEN", "REJECTED", "REJECTED"]), max_size=1))
        ],
        channels=[draw(channel_views(ch)) for ch in CHANNELS],
    )


def policy_context(view: DebtorView, history: Iterable[Contact] = ()) -> PolicyContext:
    """The policy's context for ``view``, built as the orchestrator builds it."""
    assert view.time_zone and view.country and view.jurisdiction
    disputed = {d.account_id for d in view.disputes if d.status == "OPEN"}
    status = {"PAID": "paid", "SETTLED": "settled", "WRITTEN_OFF": "written_off"}
    flags: set[Flag] = set()
    if view.flags.vulnerable:
        flags.add("vulnerable")
    if view.flags.cease_and_desist:
        flags.add("cease_and_desist")
    return PolicyContext(
        time_zone=view.time_zone,
        country=view.country,
        jurisdiction=view.jurisdiction,
        flags=frozenset(flags),
        debts={
            a.account_id: DebtState(
                status=status.get(a.status, "open"),  # type: ignore[arg-type]
                dispute_open=a.account_id in disputed,
            )
            for a in view.accounts
        },
        opted_out=frozenset(c.channel for c in view.channels if c.opted_out),
        consent=frozenset(c.channel for c in view.channels if c.consent),
        valid_addresses=frozenset(c.channel for c in view.channels if c.valid and c.address),
        history=tuple(history),
    )


def instants() -> st.SearchStrategy[datetime]:
    """Any minute within a year, so hours, weekdays and holidays all occur."""
    return st.integers(0, 365 * 24 * 60).map(lambda m: START + timedelta(minutes=m))


ALL_ACTIONS: tuple[Action, ...] = tuple(candidate_actions(CHANNELS))


def synthetic_features(segment: int, extra: float) -> Features:
    """A small context for the synthetic learning problems."""
    return Features((("seg", f"s{segment}"), ("x", round(extra, 3))))


def decision_id() -> str:
    return str(uuid.uuid4())


def a_view(**update: object) -> DebtorView:
    """One fixed debtor in Bogota with two reachable channels and some history."""
    at = START - timedelta(days=3)
    view = DebtorView(
        occurred_at=at,
        source="test",
        debtor_id="D1",
        version=1,
        language="es",
        time_zone="America/Bogota",
        country="CO",
        jurisdiction="co_ley_2300",
        risk_segment="high",
        preferred_channel="sms",
        bucket="DPD_31_60",
        max_days_past_due=45,
        accounts=[
            AccountView(
                account_id="A1",
                status="OPEN",
                currency="COP",
                balance_minor=12_000_000,
                overdue_minor=400_000,
                days_past_due=45,
                bucket="DPD_31_60",
            )
        ],
        promises=[
            PromiseView(
                promise_id="p1",
                account_id="A1",
                amount_minor=1000,
                currency="COP",
                promised_date=at.date(),
                status="BROKEN",
            )
        ],
        channels=[
            ChannelView(
                channel="sms",
                address="+57300",
                consent=True,
                opted_out=False,
                valid=True,
                sent=4,
                delivered=4,
                read=2,
                replied=1,
                failed=0,
            ),
            ChannelView(
                channel="email",
                address="d@example.co",
                consent=True,
                opted_out=False,
                valid=True,
                sent=2,
                delivered=1,
                read=0,
                replied=0,
                failed=1,
            ),
        ],
    )
    return view.model_copy(update=update)
