"""Risk scoring: each delinquent debtor's chance to roll into the next
bucket rather than cure first, from what the 360-degree view shows early in
the delinquency.

An online logistic regression (scikit-learn's ``SGDClassifier`` with the log
loss, updated with ``partial_fit``) over hashed features, so it learns from
each resolved case as it comes and needs no feature table fixed in advance.
The chance to cure before rolling is the complement. Pure: no Kafka and no
clock; the caller gives the view and says how each case ended.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from sklearn.feature_extraction import FeatureHasher  # type: ignore[import-untyped]
from sklearn.linear_model import SGDClassifier  # type: ignore[import-untyped]

from recaudo.contracts.records import CHANNELS, DebtorView
from recaudo.learning.features import balance_band

#: the hashed feature space: far more slots than features, so collisions are rare
HASH_FEATURES: Final = 2**12
#: the risk segments a score maps to, by its chance to roll (upper bounds)
SEGMENT_BOUNDS: Final[tuple[tuple[str, float], ...]] = (("low", 0.35), ("medium", 0.6))


def risk_features(view: DebtorView, account_id: str | None = None) -> dict[str, float]:
    """What the view shows early in a delinquency, as named numbers (a
    categorical value is a ``name=value`` feature of 1)."""
    account = next((a for a in view.accounts if a.account_id == account_id), None)
    if account is None:
        account = max(view.accounts, key=lambda a: (a.days_past_due, a.account_id), default=None)
    out: dict[str, float] = {
        # An explicit constant: the classifier's own intercept moves slowly on sparse input.
        "bias": 1.0,
        f"bucket={account.bucket if account else view.bucket}": 1.0,
        f"risk={view.risk_segment or 'unknown'}": 1.0,
        f"country={view.country or 'unknown'}": 1.0,
        "dpd": (account.days_past_due if account else view.max_days_past_due) / 30,
    }
    if account is not None:
        out[f"balance={balance_band(account.balance_minor)}"] = 1.0
        if account.balance_minor > 0:
            out["overdue_share"] = min(1.0, account.overdue_minor / account.balance_minor)
    for status in ("PENDING", "KEPT", "BROKEN"):
        made = sum(p.status == status for p in view.promises)
        out[f"promises_{status.lower()}"] = math.log1p(made)
    out["disputes"] = math.log1p(len(view.disputes))
    by_channel = {c.channel: c for c in view.channels}
    sent = replied = failed = 0
    for channel in CHANNELS:
        cv = by_channel.get(channel)
        if cv is None:
            continue
        sent += cv.sent
        replied += cv.replied
        failed += cv.failed
        if cv.opted_out:
            out["opted_out"] = out.get("opted_out", 0.0) + 1.0
    out["sent"] = math.log1p(sent)
    out["reply_rate"] = (replied + 0.5) / (sent + 2)  # smoothed: no history is 25 %
    out["fail_rate"] = (failed + 0.5) / (sent + 2)
    return out


def segment_of(roll_chance: float) -> str:
    """The risk segment (low, medium, high) a chance to roll falls in."""
    for name, bound in SEGMENT_BOUNDS:
        if roll_chance < bound:
            return name
    return "high"


@dataclass(frozen=True, slots=True)
class RiskScore:
    #: the chance to roll into the next bucket before curing
    roll: float

    @property
    def cure(self) -> float:
        """The chance to cure (pay what is overdue) before rolling."""
        return 1.0 - self.roll

    @property
    def segment(self) -> str:
        return segment_of(self.roll)


class RiskModel:
    """An online logistic regression of rolling against curing."""

    def __init__(self, *, alpha: float = 1e-4, step: float = 0.02, seed: int = 0) -> None:
        self._hasher = FeatureHasher(
            n_features=HASH_FEATURES, input_type="dict", alternate_sign=False
        )
        # Averaged SGD at a constant step stays calibrated learning one case at a time.
        self._model = SGDClassifier(
            loss="log_loss",
            alpha=alpha,
            learning_rate="constant",
            eta0=step,
            average=True,
            random_state=seed,
        )
        self._seen = 0

    @property
    def trained(self) -> bool:
        return self._seen > 0

    def learn(self, cases: Sequence[Mapping[str, float]], rolled: Sequence[bool]) -> None:
        """Update from resolved cases: each one's early features and whether
        it rolled (True) or cured first (False)."""
        if len(cases) != len(rolled):
            raise ValueError(f"{len(cases)} cases but {len(rolled)} outcomes: give one per case")
        if not cases:
            return
        x = self._hasher.transform(cases)
        y = np.fromiter((1 if r else 0 for r in rolled), dtype=np.int64, count=len(rolled))
        self._model.partial_fit(x, y, classes=np.array([0, 1]))
        self._seen += len(cases)

    def score(self, cases: Sequence[Mapping[str, float]]) -> list[RiskScore]:
        """Each case's chance to roll; 0.5 before the model has learnt anything."""
        if not cases:
            return []
        if not self.trained:
            return [RiskScore(0.5) for _ in cases]
        proba = self._model.predict_proba(self._hasher.transform(cases))[:, 1]
        return [RiskScore(float(p)) for p in proba]


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The area under the ROC curve: the chance a random positive scores above
    a random negative (ties count half)."""
    pairs = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("the AUC needs both outcomes among the labels")
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2  # ranks i+1..j share their mean
        rank_sum += mean_rank * sum(1 for _, y in pairs[i:j] if y)
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def calibration(
    scores: Sequence[float], labels: Sequence[bool], bins: int = 10
) -> list[tuple[float, float, int]]:
    """Per score decile (equal counts): mean predicted chance, observed rate, cases."""
    pairs = sorted(zip(scores, labels, strict=True))
    out: list[tuple[float, float, int]] = []
    for b in range(bins):
        chunk = pairs[b * len(pairs) // bins : (b + 1) * len(pairs) // bins]
        if chunk:
            out.append(
                (
                    sum(s for s, _ in chunk) / len(chunk),
                    sum(y for _, y in chunk) / len(chunk),
                    len(chunk),
                )
            )
    return out
