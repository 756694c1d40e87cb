"""Rewards joined to decisions: each outcome once, whatever the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.learning.rewards import (
    OUTCOME_KINDS,
    LoggedDecision,
    Outcome,
    RewardConfig,
    join_rewards,
)

T = datetime(2024, 6, 3, 12, tzinfo=UTC)
CONFIG = RewardConfig()
CHARGED = RewardConfig(contact_cost=0.1, fatigue_cost=0.05)


def _at(hours: float) -> datetime:
    return T + timedelta(hours=hours)


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[LoggedDecision], list[Outcome]]:
    decisions = [
        LoggedDecision(
            decision_id=f"dec{i}",
            dispatch_id=f"dsp{i}",
            debtor_id=draw(st.sampled_from(["D1", "D2"])),
            # None: a decision not to contact, joined like any other.
            channel=draw(st.sampled_from(["sms", "email", "whatsapp", "voice", None])),
            decided_at=_at(draw(st.integers(0, 200))),
            recent_contacts=draw(st.integers(0, 3)),
        )
        for i in range(draw(st.integers(1, 6)))
    ]
    outcomes = [
        Outcome(
            outcome_id=f"o{draw(st.integers(0, 12))}",
            kind=draw(st.sampled_from(OUTCOME_KINDS)),
            debtor_id=draw(st.sampled_from(["D1", "D2"])),
            at=_at(draw(st.integers(0, 400))),
            dispatch_id=draw(st.sampled_from([None, "dsp0", "dsp1", "dsp2", "dsp9"])),
            amount_minor=draw(st.sampled_from([0, 500])),
        )
        for _ in range(draw(st.integers(0, 15)))
    ]
    return decisions, outcomes


@settings(max_examples=300, deadline=None)
@given(logs(), st.randoms(use_true_random=False), st.integers(1, 3))
def test_the_join_is_idempotent_and_order_independent(
    log: tuple[list[LoggedDecision], list[Outcome]], rng: object, copies: int
) -> None:
    decisions, outcomes = log
    expected = join_rewards(decisions, outcomes, CONFIG)
    # Redelivered (duplicated) and late (shuffled) outcomes and decisions.
    redelivered = outcomes * copies + outcomes[: len(outcomes) // 2]
    shuffled_outcomes = list(redelivered)
    shuffled_decisions = decisions * copies
    rng.shuffle(shuffled_outcomes)  # type: ignore[attr-defined]
    rng.shuffle(shuffled_decisions)  # type: ignore[attr-defined]
    assert join_rewards(shuffled_decisions, shuffled_outcomes, CONFIG) == expected
    charged = join_rewards(decisions, outcomes, CHARGED)
    assert join_rewards(shuffled_decisions, shuffled_outcomes, CHARGED) == charged
    # Folding twice changes nothing: rewards from the join's own inputs are stable.
    assert join_rewards(decisions, outcomes + outcomes, CONFIG) == expected
    assert set(expected) == {d.decision_id for d in decisions}


def _decision(i: int, hours: float, channel: str = "sms") -> LoggedDecision:
    return LoggedDecision(f"dec{i}", f"dsp{i}", "D1", channel, _at(hours))  # type: ignore[arg-type]


def test_a_reply_and_a_payment_count_once_each_minus_the_channel_cost() -> None:
    decisions = [_decision(1, 0, "voice")]
    outcomes = [
        Outcome("r1", "reply", "D1", _at(1), "dsp1"),
        Outcome("r2", "reply", "D1", _at(2), "dsp1"),
        Outcome("p1", "payment", "D1", _at(30), None, 5000),
        Outcome("p1", "payment", "D1", _at(30), None, 5000),
    ]
    reward = join_rewards(decisions, outcomes, CONFIG)["dec1"]
    assert reward.kinds == ("payment", "reply")
    expected = CONFIG.weights["reply"] + CONFIG.weights["payment"] - CONFIG.channel_cost["voice"]
    assert reward.value == pytest.approx(expected)


def test_a_payment_goes_to_the_latest_decision_before_it_inside_the_window() -> None:
    decisions = [_decision(1, 0), _decision(2, 24), _decision(3, 100)]
    payment = Outcome("p1", "payment", "D1", _at(50))
    rewards = join_rewards(decisions, [payment], CONFIG)
    assert rewards["dec2"].kinds == ("payment",)
    assert rewards["dec1"].kinds == () and rewards["dec3"].kinds == ()
    late = Outcome("p2", "payment", "D1", _at(100 + 24 * 8))
    assert join_rewards(decisions, [late], CONFIG)["dec3"].kinds == ()


def test_an_opt_out_or_complaint_is_negative_and_an_empty_contact_costs() -> None:
    decisions = [_decision(1, 0, "sms"), _decision(2, 0, "email")]
    outcomes = [
        Outcome("x1", "opt_out", "D1", _at(1), "dsp1"),
        Outcome("x2", "complaint", "D1", _at(1), "dsp1"),
    ]
    rewards = join_rewards(decisions, outcomes, CONFIG)
    assert rewards["dec1"].value == pytest.approx(
        CONFIG.weights["opt_out"] + CONFIG.weights["complaint"] - CONFIG.channel_cost["sms"]
    )
    assert rewards["dec2"].value == pytest.approx(-CONFIG.channel_cost["email"])


def test_an_outcome_for_an_unknown_dispatch_or_before_the_decision_counts_for_nothing() -> None:
    decisions = [_decision(1, 10)]
    outcomes = [
        Outcome("a", "reply", "D1", _at(11), "dsp-unknown"),
        Outcome("b", "reply", "D1", _at(5), "dsp1"),
    ]
    assert join_rewards(decisions, outcomes, CONFIG)["dec1"].kinds == ()


def test_a_config_with_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome kinds"):
        RewardConfig(weights={"bribe": 1.0})  # type: ignore[dict-item]


def test_a_decision_not_to_contact_costs_nothing_and_earns_what_follows_it() -> None:
    decisions = [
        _decision(1, 0, "sms"),
        LoggedDecision("dec2", "dec2", "D1", None, _at(24), recent_contacts=1),
    ]
    payment = Outcome("p1", "payment", "D1", _at(30))
    rewards = join_rewards(decisions, [payment], CHARGED)
    # The payment came after the wait: the wait earns it, the contact before it does not.
    assert rewards["dec2"].kinds == ("payment",)
    assert rewards["dec2"].value == pytest.approx(CHARGED.weights["payment"])
    assert join_rewards(decisions, [], CHARGED)["dec2"].value == 0.0


def test_a_contact_is_charged_its_channel_the_contact_and_the_fatigue_it_adds() -> None:
    tired = LoggedDecision("dec1", "dsp1", "D1", "voice", _at(0), recent_contacts=3)
    fresh = LoggedDecision("dec2", "dsp2", "D2", "voice", _at(0))
    rewards = join_rewards([tired, fresh], [], CHARGED)
    voice = CHARGED.channel_cost["voice"]
    assert rewards["dec2"].value == pytest.approx(-voice - 0.1)
    assert rewards["dec1"].value == pytest.approx(-voice - 0.1 - 3 * 0.05)
    # The defaults charge the channel only, as before.
    assert join_rewards([tired], [], CONFIG)["dec1"].value == pytest.approx(-voice)
    with pytest.raises(ValueError, match="0 or more"):
        RewardConfig(contact_cost=-1.0)
