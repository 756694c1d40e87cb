"""Arms: a stable, salted assignment by shares per segment, and the switch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.learning.arms import ArmPlan, ArmShares, assign_arm
from recaudo.learning.configuration import arm_plan, learner_config, parse_segment_shares
from recaudo.settings import Settings

IDS = [f"D{i:05d}" for i in range(20_000)]
SHARES = st.tuples(st.floats(0, 0.5), st.floats(0, 0.5)).map(
    lambda hl: ArmShares(holdout=hl[0], learner=hl[1])
)


def test_a_debtor_keeps_its_arm_across_processes() -> None:
    """No ``hash()``: another interpreter with another hash seed draws the same arms."""
    code = (
        "from recaudo.learning.arms import ArmPlan, ArmShares, assign_arm;"
        "p = ArmPlan(enabled=True, default=ArmShares(holdout=0.1, learner=0.3));"
        f"print(''.join(assign_arm(d, None, p)[0] for d in {IDS[:300]!r}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    plan = ArmPlan(enabled=True, default=ArmShares(holdout=0.1, learner=0.3))
    here = "".join(assign_arm(d, None, plan)[0] for d in IDS[:300])
    assert there == here and set(here) == {"h", "l", "s"}


@given(st.text(min_size=1, max_size=20), SHARES, st.floats(0, 0.5))
def test_raising_the_learner_share_never_moves_the_holdout_or_the_learner(
    debtor_id: str, shares: ArmShares, more: float
) -> None:
    before = assign_arm(debtor_id, None, ArmPlan(enabled=True, default=shares))
    wider = ArmShares(
        holdout=shares.holdout, learner=min(1 - shares.holdout, shares.learner + more)
    )
    after = assign_arm(debtor_id, None, ArmPlan(enabled=True, default=wider))
    if before in ("holdout", "learner"):
        assert after == before
    else:
        assert after in ("static", "learner")


@given(st.text(min_size=1, max_size=20), SHARES)
def test_switched_off_every_debtor_is_static(debtor_id: str, shares: ArmShares) -> None:
    plan = ArmPlan(enabled=False, default=shares, by_segment={"low": ArmShares(learner=1.0)})
    assert assign_arm(debtor_id, "low", plan) == "static"
    assert assign_arm(debtor_id, None, plan) == "static"


@pytest.mark.parametrize(("holdout", "learner"), [(0.1, 0.2), (0.05, 0.5), (0.0, 1.0)])
def test_shares_are_respected_over_many_debtors(holdout: float, learner: float) -> None:
    plan = ArmPlan(enabled=True, default=ArmShares(holdout=holdout, learner=learner))
    arms = [assign_arm(d, None, plan) for d in IDS]
    # 20 000 independent draws: 4 standard errors of a share are below 0.015.
    assert abs(arms.count("holdout") / len(IDS) - holdout) < 0.015
    assert abs(arms.count("learner") / len(IDS) - learner) < 0.015


def test_segments_have_their_own_shares_and_a_new_salt_draws_new_arms() -> None:
    plan = ArmPlan(
        enabled=True,
        default=ArmShares(),
        by_segment={"high": ArmShares(learner=1.0), "unknown": ArmShares(holdout=1.0)},
    )
    assert {assign_arm(d, "high", plan) for d in IDS[:500]} == {"learner"}
    assert {assign_arm(d, None, plan) for d in IDS[:500]} == {"holdout"}
    assert {assign_arm(d, "low", plan) for d in IDS[:500]} == {"static"}
    half = ArmShares(learner=0.5)
    a = [assign_arm(d, None, ArmPlan(enabled=True, default=half, salt="a")) for d in IDS[:500]]
    b = [assign_arm(d, None, ArmPlan(enabled=True, default=half, salt="b")) for d in IDS[:500]]
    assert a != b


def test_shares_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="more than 1"):
        ArmShares(holdout=0.6, learner=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        ArmShares(learner=1.5)


def test_settings_build_the_plan_and_the_learner_config() -> None:
    settings = Settings(
        learner_enabled=True,
        learner_share=0.2,
        learner_holdout_share=0.05,
        learner_segment_shares="low:0.5/0.1, high:0.1",
        learner_probability_floor=0.02,
    )
    plan = arm_plan(settings)
    assert plan.enabled and plan.default == ArmShares(holdout=0.05, learner=0.2)
    assert plan.by_segment == {
        "low": ArmShares(holdout=0.1, learner=0.5),
        "high": ArmShares(learner=0.1),
    }
    config = learner_config(settings)
    assert config.enabled and config.probability_floor == 0.02
    assert not arm_plan(Settings()).enabled


@pytest.mark.parametrize("text", ["low", "low:x", ":0.2", "low:0.8/0.5"])
def test_unreadable_segment_shares_name_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="segment:learner/holdout"):
        parse_segment_shares(text)
