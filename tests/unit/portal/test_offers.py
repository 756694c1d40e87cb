"""What the portal offers: the conversation's own terms within the bank's
bounds, for the token's debtor and accounts only; what a choice becomes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import DebtEvent, DebtorView, PaymentPlanAgreed, PromiseToPay
from recaudo.conversation.negotiation import within_bounds
from recaudo.portal.offers import (
    ChoiceRefused,
    choice_event,
    chosen,
    clicked,
    offers_for,
)
from recaudo.portal.token import PortalToken
from recaudo.view import apply, snapshot
from recaudo.view.timebase import to_ms
from tests.unit.conversation.fixtures import STRATEGY, Chat, debtor_events, u
from tests.unit.view.builders import ACCOUNT, DEBTOR, at


def view_of(language: str = "es", dpd: int = 45, balance: int = 1_200_000) -> DebtorView:
    state = None
    for event in debtor_events(language, dpd, balance, 200_000):
        state = apply(state, event).state
    assert state is not None
    return snapshot(state, DEBTOR)


NOW = at(0.5)
LINK = PortalToken(
    debtor_id=DEBTOR,
    dispatch_id="dispatch-1",
    channel="sms",
    purpose="open",
    expires_at=to_ms(NOW) + 86_400_000,
)


def choose(offer_id: str) -> PortalToken:
    return replace(LINK, purpose="choose", offer_id=offer_id)


def test_every_offer_keeps_to_the_segments_bounds() -> None:
    view = view_of(dpd=45)
    (group,) = offers_for(view, STRATEGY, LINK, NOW)
    bounds = STRATEGY.bounds_for(group.account.bucket, view.risk_segment, view.country)
    assert bounds is not None and bounds.max_instalments == 6
    kinds = [(o.kind, o.instalments) for o in group.offers]
    # Six instalments would start below the least first payment: five is the most.
    assert kinds == [("promise", 1), ("plan", 2), ("plan", 3), ("plan", 5)]
    today = group.promise_from
    assert today is not None
    assert all(within_bounds(o, group.account, bounds, today) for o in group.offers)
    assert group.promise_until == today + timedelta(days=bounds.max_promise_days)


def test_a_plan_has_the_terms_a_conversation_agrees_to() -> None:
    chat = Chat("es", now=NOW)
    chat.say(u("ask_plan", instalments=3), text="puedo en 3 cuotas?")
    (agreed,) = chat.say(u("thanks_ack"), text="dale").events
    assert isinstance(agreed, DebtEvent) and isinstance(agreed.payload, PaymentPlanAgreed)
    (group,) = offers_for(view_of(), STRATEGY, LINK, chat.now)
    plan = next(o for o in group.offers if o.kind == "plan" and o.instalments == 3)
    event = choice_event(choose(plan.offer_id), plan, chat.now)
    mine, theirs = event.payload, agreed.payload
    assert isinstance(mine, PaymentPlanAgreed)
    for name in ("instalment_count", "instalment_minor", "total_minor", "currency", "frequency"):
        assert getattr(mine, name) == getattr(theirs, name)
    assert mine.first_due_date == theirs.first_due_date


def test_a_settlement_is_offered_past_90_days_only() -> None:
    (late,) = offers_for(view_of(dpd=120), STRATEGY, LINK, NOW)
    (early,) = offers_for(view_of(dpd=45), STRATEGY, LINK, NOW)
    assert "settlement" in {o.kind for o in late.offers}
    assert "settlement" not in {o.kind for o in early.offers}


def test_a_promise_is_on_the_day_picked_within_the_bounds_only() -> None:
    view = view_of()
    (group,) = offers_for(view, STRATEGY, LINK, NOW)
    promise = group.offers[0]
    assert group.promise_from is not None and group.promise_until is not None
    token = choose(promise.offer_id)
    picked = chosen(view, STRATEGY, token, NOW, group.promise_until)
    assert picked.due == group.promise_until and picked.total_minor == promise.total_minor
    for wrong, reason in (
        (group.promise_until + timedelta(days=1), "date_out_of_bounds"),
        (group.promise_from - timedelta(days=1), "date_out_of_bounds"),
        (None, "no_date"),
    ):
        with pytest.raises(ChoiceRefused) as refused:
            chosen(view, STRATEGY, token, NOW, wrong)
        assert refused.value.reason == reason
    event = choice_event(token, picked, NOW)
    assert event.type == "PROMISE_TO_PAY" and isinstance(event.payload, PromiseToPay)
    assert event.payload.promised_date == group.promise_until


def test_an_offer_the_view_no_longer_allows_is_refused() -> None:
    with pytest.raises(ChoiceRefused) as refused:
        chosen(view_of(), STRATEGY, choose("portal-not-an-offer"), NOW, None)
    assert refused.value.reason == "offer_gone"


def test_the_view_of_another_debtor_is_never_used() -> None:
    with pytest.raises(ValueError, match="token's debtor"):
        offers_for(view_of(), STRATEGY, replace(LINK, debtor_id="D-2"), NOW)


def test_a_token_scoped_to_another_account_offers_nothing_of_this_one() -> None:
    assert offers_for(view_of(), STRATEGY, replace(LINK, account_id="ACC-OTHER"), NOW) == []
    (group,) = offers_for(view_of(), STRATEGY, replace(LINK, account_id=ACCOUNT), NOW)
    assert group.account.account_id == ACCOUNT


@settings(max_examples=30, deadline=None)
@given(first=st.integers(0, 3), second=st.integers(0, 3), promise_day=st.integers(0, 7))
def test_one_link_is_one_choice_event_whatever_is_chosen(
    first: int, second: int, promise_day: int
) -> None:
    view = view_of()
    (group,) = offers_for(view, STRATEGY, LINK, NOW)
    assert group.promise_from is not None and group.promise_until is not None
    day = min(group.promise_from + timedelta(days=promise_day), group.promise_until)
    events = [
        choice_event(choose(o.offer_id), chosen(view, STRATEGY, choose(o.offer_id), NOW, day), NOW)
        for o in (group.offers[first], group.offers[second])
    ]
    assert events[0].event_id == events[1].event_id
    other = replace(LINK, dispatch_id="dispatch-2")
    assert choice_event(other, group.offers[first], NOW).event_id != events[0].event_id


def test_opening_a_link_is_one_click_on_its_dispatch() -> None:
    click = clicked(LINK, NOW)
    again = clicked(LINK, NOW + timedelta(hours=1))
    assert click.status == "CLICKED" and click.dispatch_id == "dispatch-1"
    assert click.channel == "sms" and click.event_id == again.event_id
