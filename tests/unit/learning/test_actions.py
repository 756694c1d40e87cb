"""The learner only ever chooses among contacts the policy engine allows, and
never takes a debtor past a cap of the rule set the static strategy obeys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import DebtorView
from recaudo.learning.actions import (
    MIN_SEND,
    SendWindow,
    StepRequest,
    allowed_actions,
    candidate_actions,
)
from recaudo.learning.bandit import Bandit, Choice, LearnerConfig, Wait
from recaudo.learning.features import context_features
from recaudo.policy import PRESETS, Candidate, Contact, RuleSet, evaluate
from recaudo.policy.caps import Cap
from recaudo.policy.quiet_hours import zone_for
from tests.unit.learning.fixtures import ALL_ACTIONS, instants, policy_context, views

# A spread-out model: every allowed action keeps a fair chance of being drawn.
CONFIG = LearnerConfig(learner_share=1.0, probability_floor=0.02)


@pytest.fixture(scope="module")
def bandit() -> Iterator[Bandit]:
    with Bandit(CONFIG) as b:
        yield b


def _request(view: DebtorView, step: int = 0) -> StepRequest:
    return StepRequest(view.debtor_id, view.accounts[0].account_id, "payment_missed", step)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    view=views(),
    now=instants(),
    history_minutes=st.lists(st.integers(1, 10 * 24 * 60), max_size=6),
    decision=st.uuids(),
)
def test_every_action_the_learner_can_choose_passes_the_policy(
    bandit: Bandit,
    view: DebtorView,
    now: datetime,
    history_minutes: list[int],
    decision: object,
) -> None:
    rules = PRESETS[str(view.jurisdiction)]
    channels = [c.channel for c in view.channels]
    history = [
        Contact(now - timedelta(minutes=m), channels[m % len(channels)], "A1")
        for m in history_minutes
    ]
    ctx = policy_context(view, history)
    request = _request(view)
    allowed = allowed_actions(ctx, request, ALL_ACTIONS, now, rules)
    kept = {a.action for a in allowed}
    zone = zone_for(ctx.time_zone)
    assert zone is not None
    # Exactly the actions the engine answers DISPATCH for at their send instant.
    for action in ALL_ACTIONS:
        at = action.window.send_at(now, zone)
        candidate = Candidate(
            request.debtor_id, request.debt_id, action.channel, "payment_missed", 0
        )
        dispatch = evaluate(ctx, candidate, at, rules, min_send=MIN_SEND).outcome == "DISPATCH"
        assert (action in kept) == dispatch, action.label
    if not allowed:
        return
    features = context_features(view, "A1", now)
    # Offered "no contact now" and told the static choice, it still picks an allowed action.
    offered = bandit.choose_or_wait(str(decision), features, allowed, baseline=allowed[-1].action)
    assert isinstance(offered, Wait) or offered.action in kept
    choice = bandit.choose(str(decision), features, allowed)
    chosen = next(a for a in allowed if a.action == choice.action)
    candidate = Candidate(
        request.debtor_id, request.debt_id, choice.action.channel, "payment_missed", 0
    )
    decided = evaluate(ctx, candidate, chosen.send_at, rules, min_send=MIN_SEND)
    assert decided.outcome == "DISPATCH"
    assert chosen.send_at >= now
    assert chosen.send_at - now < timedelta(days=1)


def _caps(rules: RuleSet, vulnerable: bool) -> list[Cap]:
    caps = list(rules.caps)
    if vulnerable and rules.suppression.vulnerable.mode == "restrict":
        caps += rules.suppression.vulnerable.caps
    return caps


def _counted(cap: Cap, at: datetime, subject: Contact, history: list[Contact]) -> int:
    """What ``cap`` counts in the window ending at ``at`` for ``subject``, by hand."""
    inside = [
        c
        for c in history
        if at - cap.window < c.at <= at
        and c.kind in cap.kinds
        and c.channel in cap.channels
        and (cap.scope not in ("debt", "debt_channel") or c.debt_id == subject.debt_id)
        and (cap.scope not in ("channel", "debt_channel") or c.channel == subject.channel)
    ]
    return len({c.channel for c in inside}) if cap.measure == "channels" else len(inside)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    view=views(),
    start=instants(),
    gaps=st.lists(st.integers(0, 3 * 24 * 60), min_size=4, max_size=20),
    steps=st.lists(st.integers(0, 3), min_size=20, max_size=20),
)
def test_the_learner_never_raises_a_contact_count_above_the_caps(
    bandit: Bandit, view: DebtorView, start: datetime, gaps: list[int], steps: list[int]
) -> None:
    rules = PRESETS[str(view.jurisdiction)]
    history: list[Contact] = []
    now = start
    for i, gap in enumerate(gaps):
        ctx = policy_context(view, history)
        debt = view.accounts[steps[i] % len(view.accounts)].account_id
        request = StepRequest(view.debtor_id, debt, "payment_missed", steps[i])
        allowed = allowed_actions(ctx, request, ALL_ACTIONS, now, rules)
        if allowed:
            features = context_features(view, debt, now, [c.channel for c in history])
            choice = bandit.choose_or_wait(
                f"{view.debtor_id}:{i}:{now}", features, allowed, baseline=allowed[0].action
            )
            if isinstance(choice, Choice):
                send_at = next(a.send_at for a in allowed if a.action == choice.action)
                history.append(Contact(send_at, choice.action.channel, debt))
                now = send_at
        now += timedelta(minutes=gap)
    for cap in _caps(rules, view.flags.vulnerable):
        for contact in history:
            assert _counted(cap, contact.at, contact, history) <= cap.limit, cap.rule_id


def test_a_window_sends_now_inside_it_and_at_its_next_start_outside() -> None:
    zone = zone_for("America/Bogota")
    assert zone is not None
    evening = SendWindow("evening", 18, 21)
    inside = datetime(2024, 3, 4, 19, 30, tzinfo=zone)
    assert evening.send_at(inside, zone) == inside
    before = datetime(2024, 3, 4, 9, 0, tzinfo=zone)
    assert evening.send_at(before, zone) == datetime(2024, 3, 4, 18, 0, tzinfo=zone)
    after = datetime(2024, 3, 4, 22, 0, tzinfo=zone)
    assert evening.send_at(after, zone) == datetime(2024, 3, 5, 18, 0, tzinfo=zone)
    with pytest.raises(ValueError, match="start_hour < end_hour"):
        SendWindow("bad", 20, 8)


def test_candidate_actions_are_every_combination_in_a_fixed_order() -> None:
    actions = candidate_actions(["sms", "voice", "sms"])
    assert len(actions) == 2 * 4 * 3
    assert actions == candidate_actions(["sms", "voice"])
    assert actions[0].label == "sms@morning/soft"
