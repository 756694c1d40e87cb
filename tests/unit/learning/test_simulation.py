"""The collections simulator: reproducible by seed, hidden preferences that
follow what the view shows, no contact the rules forbid under either policy,
and a ``static-right`` mix where the static strategy's choice is the best one."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import CHANNELS
from recaudo.learning.actions import (
    DEFAULT_VARIANTS,
    DEFAULT_WINDOWS,
    StepRequest,
    allowed_actions,
    candidate_actions,
)
from recaudo.learning.simulation import (
    AGE_BANDS,
    CHANNEL_BY_AGE,
    DECISION_HOUR_UTC,
    VARIANT_BY_BUCKET,
    WINDOW_BY_AGE,
    Metrics,
    PolicyName,
    SimConfig,
    SimDebtor,
    Simulation,
    best_action,
    build_book,
    policy_context,
    simulate,
    stage_of,
    static_allowed,
)
from recaudo.orchestration.strategy import load_strategy
from recaudo.policy import PRESETS

START = SimConfig().start
SMALL = SimConfig(debtors=120, days=12, seed=3)


def _outcomes(m: Metrics) -> dict[str, object]:
    # The decision cost is a timing, the one thing a seed does not fix.
    return {k: v for k, v in dataclasses.asdict(m).items() if k != "decision_ns"}


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    first = simulate(SMALL, "learned")
    again = simulate(SMALL, "learned")
    other = simulate(dataclasses.replace(SMALL, seed=4), "learned")
    assert first.contacts > 0 and first.delinquent > 0
    assert _outcomes(first) == _outcomes(again)
    assert _outcomes(first) != _outcomes(other)
    assert _outcomes(simulate(SMALL, "static")) == _outcomes(simulate(SMALL, "static"))


def test_each_learner_decision_is_a_contact_or_a_step_passed_without_one() -> None:
    learned = simulate(SMALL, "learned")
    assert learned.waits > 0 and learned.contacts > 0
    assert learned.contacts + learned.waits == learned.decisions
    no_wait = simulate(dataclasses.replace(SMALL, learner_wait=False), "learned")
    assert no_wait.waits == 0 and no_wait.contacts == no_wait.decisions


def _share(pairs: Sequence[tuple[str, str]], given_: str, value: str) -> float:
    within = [v for g, v in pairs if g == given_]
    return sum(v == value for v in within) / len(within)


def test_hidden_preferences_follow_what_the_view_shows() -> None:
    book = build_book(3000, seed=11, mix="default", start=START)
    overall_channel = Counter(d.persona.best_channel for d in book)
    by_age = [(d.age_band, d.persona.best_channel) for d in book]
    windows = [(d.age_band, d.persona.best_window) for d in book]
    for band in AGE_BANDS:
        likeliest = max(CHANNEL_BY_AGE[band], key=CHANNEL_BY_AGE[band].__getitem__)
        marginal = overall_channel[likeliest] / len(book)
        # The age band moves the preferred channel well away from the book's mix.
        assert _share(by_age, band, likeliest) > 1.4 * marginal, band
        window = max(WINDOW_BY_AGE[band], key=WINDOW_BY_AGE[band].__getitem__)
        assert _share(windows, band, window) > 0.45, band
    tones = [(stage_of(d.bucket), d.persona.best_variant) for d in book]
    for stage, table in VARIANT_BY_BUCKET.items():
        assert _share(tones, stage, max(table, key=table.__getitem__)) > 0.5, stage
    # The channel the view shows most replies on is the preferred one far more often than chance.
    with_history = [d for d in book if any(s.replied for s in d.channels.values())]
    hits = sum(_most_replied(d) == d.persona.best_channel for d in with_history)
    assert hits / len(with_history) > 0.6


def _most_replied(d: SimDebtor) -> str:
    return max(d.channels, key=lambda ch: d.channels[ch].replied / max(1, d.channels[ch].sent))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), mix=st.sampled_from(["default", "static-right"]))
def test_neither_policy_ever_sends_a_contact_the_rules_forbid(seed: int, mix: str) -> None:
    config = SimConfig(debtors=60, days=10, seed=seed, mix=mix)  # type: ignore[arg-type]
    policies: tuple[PolicyName, ...] = ("static", "learned")
    for policy in policies:
        metrics = simulate(config, policy)
        assert metrics.contacts > 0, policy
        assert metrics.violations == 0, policy


def _static_vs_best(mix: str) -> float:
    """The share of first-step contexts (debtors, over several days) where the
    persona's best allowed action is the one the static strategy sends."""
    book = build_book(400, seed=5, mix=mix, start=START)  # type: ignore[arg-type]
    strategy = load_strategy()
    actions = candidate_actions(CHANNELS, DEFAULT_WINDOWS, DEFAULT_VARIANTS)
    same = total = 0
    for day in range(0, 10, 3):
        now = (START + timedelta(days=day)).replace(hour=DECISION_HOUR_UTC)
        for debtor in book:
            cadence = strategy.cadence_for("payment_missed", debtor.bucket, debtor.risk)
            assert cadence is not None
            static = static_allowed(debtor, cadence, now)
            request = StepRequest(debtor.debtor_id, debtor.account_id, cadence.trigger, 0)
            every = allowed_actions(
                policy_context(debtor), request, actions, now, PRESETS[debtor.jurisdiction]
            )
            if not static:
                continue
            total += 1
            same += best_action(debtor, every, now).action == static[0].action
    return same / total


def test_under_static_right_the_static_choice_is_the_best_action() -> None:
    assert _static_vs_best("static-right") > 0.9
    # The default mix is not built that way: there the static choice is often not the best.
    assert _static_vs_best("default") < 0.5


def test_an_unknown_mix_or_policy_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="static-right"):
        build_book(1, seed=0, mix="everyone-pays", start=START)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'static' or 'learned'"):
        simulate(SMALL, "random")  # type: ignore[arg-type]


def test_a_learner_limited_to_the_step_picks_only_the_steps_channels() -> None:
    config = dataclasses.replace(SMALL, debtors=300, seed=2, learner_channels="step")
    sim = Simulation(config, "learned")
    now = START.replace(hour=DECISION_HOUR_UTC)
    picked = Counter[str]()
    try:
        for debtor in sim.book:
            sim.book_events(debtor, 0, now, 0)
            run = debtor.run
            if run is None:
                continue
            chosen, _ = sim.learner_choice(debtor, run, now)
            if chosen is not None:
                assert chosen.action.channel in run.cadence.steps("champion")[0].channels
                picked[chosen.action.channel] += 1
    finally:
        sim.close()
    assert sum(picked.values()) > 50
