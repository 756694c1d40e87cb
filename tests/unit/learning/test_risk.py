"""The risk model: features from the view, an AUC and a calibration that are
right, and an online model that ranks and calibrates on cases it never saw."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.learning.risk import (
    RiskModel,
    RiskScore,
    auc,
    calibration,
    risk_features,
    segment_of,
)
from recaudo.learning.simulation import SimConfig, risk_cases
from tests.unit.learning.fixtures import a_view


@given(
    st.lists(
        st.tuples(st.integers(0, 5).map(float), st.booleans()), min_size=2, max_size=40
    ).filter(lambda xs: 0 < sum(y for _, y in xs) < len(xs))
)
def test_the_auc_is_the_chance_a_positive_outranks_a_negative(
    cases: list[tuple[float, bool]],
) -> None:
    scores = [s for s, _ in cases]
    labels = [y for _, y in cases]
    positives = [s for s, y in cases if y]
    negatives = [s for s, y in cases if not y]
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives]
    assert auc(scores, labels) == pytest.approx(sum(pairs) / len(pairs))


def test_the_auc_needs_both_outcomes() -> None:
    with pytest.raises(ValueError, match="both outcomes"):
        auc([0.1, 0.2], [True, True])


def test_calibration_bins_hold_equal_counts_with_their_means() -> None:
    scores = [i / 100 for i in range(100)]
    labels = [i % 2 == 0 for i in range(100)]
    bins = calibration(scores, labels, bins=4)
    assert [n for _, _, n in bins] == [25, 25, 25, 25]
    assert bins[0][0] == pytest.approx(0.12)
    assert all(o == pytest.approx(13 / 25) or o == pytest.approx(12 / 25) for _, o, _ in bins)


def test_risk_features_read_the_view() -> None:
    f = risk_features(a_view(), "A1")
    assert f["bias"] == 1.0
    assert f["bucket=DPD_31_60"] == 1.0 and f["risk=high"] == 1.0 and f["country=CO"] == 1.0
    assert f["promises_broken"] == pytest.approx(math.log1p(1))
    assert f["reply_rate"] == pytest.approx((1 + 0.5) / (6 + 2))


def _synthetic(n: int, seed: int) -> tuple[list[dict[str, float]], list[bool]]:
    """A known logistic world: high risk and more days past due roll more."""
    rng = random.Random(seed)
    cases: list[dict[str, float]] = []
    rolled: list[bool] = []
    for _ in range(n):
        risk = rng.choice(("low", "medium", "high"))
        dpd = rng.random() * 2
        logit = -1.0 + {"low": -1.0, "medium": 0.0, "high": 1.2}[risk] + 1.5 * dpd
        cases.append({"bias": 1.0, f"risk={risk}": 1.0, "dpd": dpd})
        rolled.append(rng.random() < 1 / (1 + math.exp(-logit)))
    return cases, rolled


def test_the_online_model_ranks_and_calibrates_cases_it_never_saw() -> None:
    train, train_rolled = _synthetic(10_000, seed=1)
    test, test_rolled = _synthetic(2000, seed=2)
    model = RiskModel()
    assert model.score(test[:1]) == [RiskScore(0.5)]  # untrained: no opinion
    for case, rolled in zip(train, train_rolled, strict=True):
        model.learn([case], [rolled])  # one case at a time, as they resolve
    scores = [s.roll for s in model.score(test)]
    area = auc(scores, test_rolled)
    print(f"held-out AUC {area:.3f}")
    assert area > 0.7
    for predicted, observed, _ in calibration(scores, test_rolled, bins=5):
        assert abs(predicted - observed) < 0.1, (predicted, observed)


def test_a_score_gives_the_cure_chance_and_a_segment() -> None:
    assert RiskScore(0.2).cure == pytest.approx(0.8)
    assert [segment_of(p) for p in (0.1, 0.5, 0.9)] == ["low", "medium", "high"]


def test_learning_needs_one_outcome_per_case() -> None:
    with pytest.raises(ValueError, match="one per case"):
        RiskModel().learn([{"bias": 1.0}], [True, False])


def test_the_simulator_gives_bucket_stays_that_ended_in_a_roll_or_a_cure() -> None:
    cases = risk_cases(SimConfig(debtors=150, days=40, seed=2))
    assert any(c.rolled for c in cases) and not all(c.rolled for c in cases)
    for c in cases:
        assert c.bucket in ("DPD_1_30", "DPD_31_60", "DPD_61_90")
        assert c.view.bucket == c.bucket and c.view.debtor_id == c.debtor_id
    # The same seed gives the same cases.
    again = risk_cases(SimConfig(debtors=150, days=40, seed=2))
    assert [(c.debtor_id, c.day, c.rolled) for c in again] == [
        (c.debtor_id, c.day, c.rolled) for c in cases
    ]
