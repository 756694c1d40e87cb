"""Properties of the dialogue over any account, any bounds, any request:
no offer or agreement outside the bounds, no amount in a reply that the view,
the bounds or the debtor's words do not give, one question per missing slot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.contracts.money import format_money
from recaudo.contracts.records import (
    AccountView,
    Bucket,
    DebtEvent,
    DebtorView,
    PaymentPlanAgreed,
    PromiseToPay,
)
from recaudo.conversation import ConversationState, answer_expires_at, respond
from recaudo.conversation.negotiation import within_bounds
from recaudo.orchestration.strategy import NegotiationBounds
from recaudo.understanding.types import INTENTS, Amount, Intent
from recaudo.view.timebase import to_ms
from tests.unit.conversation.fixtures import STRATEGY, u

NOW = datetime(2026, 10, 5, 15, tzinfo=UTC)
TODAY = date(2026, 10, 5)  # in UTC, the view's time zone here
BUCKETS: dict[Bucket, int] = {"DPD_1_30": 10, "DPD_31_60": 45, "DPD_61_90": 75, "DPD_90_PLUS": 130}


@st.composite
def accounts(draw: st.DrawFn) -> AccountView:
    bucket = draw(st.sampled_from(sorted(BUCKETS)))
    overdue = draw(st.integers(1, 10**9))
    balance = overdue + draw(st.integers(0, 10**9))
    return AccountView(
        account_id="A-1",
        status="OPEN",
        currency=draw(st.sampled_from(["COP", "BRL", "USD", "CLP"])),
        balance_minor=balance,
        overdue_minor=overdue,
        days_past_due=BUCKETS[bucket],
        bucket=bucket,
        next_due_minor=draw(st.none() | st.integers(1, 10**8)),
    )


@st.composite
def bounds(draw: st.DrawFn) -> NegotiationBounds:
    return NegotiationBounds(
        id="any",
        max_instalments=draw(st.integers(1, 36)),
        min_first_payment_bp=draw(st.integers(0, 10_000)),
        min_first_payment_minor=draw(
            st.dictionaries(st.sampled_from(["COP", "BRL", "USD", "CLP"]), st.integers(0, 10**7))
        ),
        min_promise_bp=draw(st.integers(0, 10_000)),
        max_promise_days=draw(st.integers(0, 60)),
        max_settlement_discount_bp=draw(st.integers(0, 9_000)),
        frequency=draw(st.sampled_from(["WEEKLY", "FORTNIGHTLY", "MONTHLY"])),
    )


def view_of(account: AccountView) -> DebtorView:
    return DebtorView(
        occurred_at=NOW,
        source="test",
        debtor_id="D-1",
        version=1,
        time_zone="UTC",
        bucket=account.bucket,
        max_days_past_due=account.days_past_due,
        accounts=[account],
    )


NEGOTIATING: tuple[Intent, ...] = (
    "promise_to_pay",
    "ask_plan",
    "cannot_pay_full",
    "thanks_ack",
    "ask_balance",
    "pay_now",
    "unknown",
)


@st.composite
def messages(draw: st.DrawFn) -> Any:
    intent: Intent = draw(st.sampled_from(NEGOTIATING))
    dates = draw(st.lists(st.integers(-5, 90).map(lambda d: TODAY + timedelta(days=d)), max_size=1))
    amounts = draw(
        st.lists(
            st.builds(Amount, minor=st.integers(1, 2 * 10**9))
            | st.builds(Amount, fraction=st.sampled_from([0.25, 0.5, 1.0])),
            max_size=1,
        )
    )
    instalments = draw(st.none() | st.integers(1, 60))
    return u(intent, dates=tuple(dates), amounts=tuple(amounts), instalments=instalments)


def _talk(account: AccountView, limits: NegotiationBounds, script: list[Any]) -> list[Any]:
    view = view_of(account)
    state: ConversationState | None = None
    turns = []
    now = NOW
    for message in script:
        now += timedelta(minutes=1)
        turn = respond(state, message, view, limits, now, "sms")
        state = turn.state
        turns.append((message, turn))
    return turns


@settings(max_examples=150, deadline=None)
@given(accounts(), bounds(), st.lists(messages(), min_size=1, max_size=6))
def test_no_offer_or_agreement_is_ever_outside_the_bounds(
    account: AccountView, limits: NegotiationBounds, script: list[Any]
) -> None:
    offered: dict[str, str] = {}
    for _, turn in _talk(account, limits, script):
        for offer in turn.state.offers:
            assert within_bounds(offer, account, limits, TODAY), offer
            offered[offer.offer_id] = offer.kind
        for event in turn.events:
            assert isinstance(event, DebtEvent)
            p = event.payload
            latest = TODAY + timedelta(days=limits.max_promise_days)
            if isinstance(p, PromiseToPay) and offered.get(p.promise_id) == "settlement":
                assert account.bucket == "DPD_90_PLUS"
                spared = account.balance_minor - p.amount_minor
                assert spared * 10_000 <= account.balance_minor * limits.max_settlement_discount_bp
                assert TODAY <= p.promised_date <= latest
            elif isinstance(p, PromiseToPay):
                owed = account.overdue_minor
                assert p.amount_minor * 10_000 >= owed * limits.min_promise_bp
                assert TODAY <= p.promised_date <= latest
                assert p.currency == account.currency
            elif isinstance(p, PaymentPlanAgreed):
                assert 1 <= p.instalment_count <= limits.max_instalments
                assert p.total_minor == account.overdue_minor
                assert p.instalment_minor * 10_000 >= p.total_minor * limits.min_first_payment_bp
                least = (limits.min_first_payment_minor or {}).get(p.currency, 0)
                assert p.instalment_minor >= min(least, p.total_minor)
                assert TODAY <= p.first_due_date <= latest
            else:
                raise AssertionError(f"unexpected {event.type}")


def derivable(account: AccountView, limits: NegotiationBounds) -> set[int]:
    """Every amount the view and the bounds give, computed independently of
    the negotiation module: figures of the account, plans of 1..max
    instalments of the overdue amount, the least promise, the settlement."""
    overdue, balance = account.overdue_minor, account.balance_minor
    owed = overdue or account.next_due_minor or balance
    figures = {overdue, balance, owed, max(balance, owed), 0}
    for n in range(1, limits.max_instalments + 1):
        each = -(-overdue // n)
        figures |= {each, overdue - (n - 1) * each}
    figures.add(-(-owed * limits.min_promise_bp // 10_000))
    discount = balance * limits.max_settlement_discount_bp // 10_000
    figures |= {discount, balance - discount}
    return figures


@settings(max_examples=150, deadline=None)
@given(accounts(), bounds(), st.lists(messages(), min_size=1, max_size=6))
def test_no_amount_in_a_reply_that_the_view_bounds_or_debtor_do_not_give(
    account: AccountView, limits: NegotiationBounds, script: list[Any]
) -> None:
    allowed = derivable(account, limits)
    for message, turn in _talk(account, limits, script):
        for a in message.entities.amounts:
            if a.minor is not None:
                allowed.add(a.minor)  # the debtor's own figure
            elif a.fraction is not None:
                owed = account.overdue_minor
                allowed.add({0.25: -(-owed // 4), 0.5: -(-owed // 2), 1.0: owed}[a.fraction])
        if turn.reply is None:
            continue
        assert set(turn.reply.amounts) <= allowed, (turn.reply, sorted(allowed))
        money = {v for v in turn.reply.variables.values() if v.startswith(account.currency + " ")}
        assert money <= {format_money(a, account.currency) for a in allowed}


@settings(max_examples=200, deadline=None)
@given(
    accounts(),
    bounds(),
    st.lists(
        st.sampled_from(INTENTS).map(lambda i: u(i)) | messages(),
        min_size=1,
        max_size=10,
    ),
)
def test_each_missing_slot_is_asked_at_most_once_per_negotiation(
    account: AccountView, limits: NegotiationBounds, script: list[Any]
) -> None:
    asked: dict[str, int] = {}
    for _, turn in _talk(account, limits, script):
        if turn.reply is not None and turn.reply.asks is not None:
            asked[turn.reply.asks] = asked.get(turn.reply.asks, 0) + 1
            assert asked[turn.reply.asks] == 1
        if turn.state.status in ("closed", "handed_off"):
            asked = {}  # a new negotiation may ask again


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 10**12),
    st.sampled_from(["sms", "whatsapp", "email"]),
    st.lists(messages(), min_size=1, max_size=4),
    st.integers(0, 3 * 86_400_000),
)
def test_an_answer_never_outlives_whatsapps_window_or_the_offer(
    start: int, channel: str, script: list[Any], gap: int
) -> None:
    account = AccountView(
        account_id="A-1",
        status="OPEN",
        currency="USD",
        balance_minor=90_000,
        overdue_minor=30_000,
        days_past_due=45,
        bucket="DPD_31_60",
    )
    state: ConversationState | None = None
    now = NOW + timedelta(milliseconds=start)
    for message in script:
        now += timedelta(milliseconds=gap)
        state = respond(state, message, view_of(account), STRATEGY, now, channel).state  # type: ignore[arg-type]
        expires = answer_expires_at(state, channel)  # type: ignore[arg-type]
        inbound = to_ms(now)
        if channel == "whatsapp":
            assert expires is not None and expires <= inbound + 24 * 3_600_000
        offer = state.current_offer()
        if offer is not None:
            assert expires is not None and expires <= offer.expires_at
