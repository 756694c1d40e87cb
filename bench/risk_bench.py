"""The risk model judged on debtors it never trained on.

    python -m bench.risk_bench                          # 5000 debtors, 90 days
    python -m bench.risk_bench --debtors 2000 --days 60 --json

Trains recaudo.learning.risk.RiskModel online, in the order the cases ended,
on every bucket stay of the simulator's book for the training seed (the
static strategy contacting), then scores the stays of another seed's book
(other debtors, other luck) and prints the AUC, the log loss against always
predicting the training roll rate, the AUC of the profile's risk segment alone,
and the calibration by score decile.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from typing import Any

from recaudo.learning.risk import RiskModel, auc, calibration, risk_features
from recaudo.learning.simulation import RiskCase, SimConfig, risk_cases

SEGMENT_ORDER = {"low": 0.0, "medium": 1.0, "high": 2.0}


def log_loss(scores: Sequence[float], labels: Sequence[bool]) -> float:
    eps = 1e-9
    return -sum(
        math.log(max(eps, s)) if y else math.log(max(eps, 1 - s))
        for s, y in zip(scores, labels, strict=True)
    ) / len(labels)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.risk_bench",
        description=(
            "Train the online risk model (chance to roll into the next bucket before curing) "
            "on one simulated book and judge it on another seed's book it never saw."
        ),
    )
    parser.add_argument("--debtors", type=int, default=5000, help="debtors per book (5000)")
    parser.add_argument("--days", type=int, default=90, help="simulated days (default 90)")
    parser.add_argument("--train-seed", type=int, default=0, help="the training book's seed")
    parser.add_argument("--test-seed", type=int, default=1, help="the judged book's seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.train_seed == args.test_seed:
        parser.error("--train-seed and --test-seed must differ: the model is judged on unseen data")
    began = time.perf_counter()
    train = risk_cases(SimConfig(debtors=args.debtors, days=args.days, seed=args.train_seed))
    test = risk_cases(SimConfig(debtors=args.debtors, days=args.days, seed=args.test_seed))
    model = RiskModel()
    for case in sorted(train, key=lambda c: c.day):
        model.learn([features_of(case)], [case.rolled])
    labels = [c.rolled for c in test]
    scores = [s.roll for s in model.score([features_of(c) for c in test])]
    base_rate = sum(c.rolled for c in train) / len(train)
    segment = [SEGMENT_ORDER.get(c.view.risk_segment or "", 1.0) for c in test]
    report: dict[str, Any] = {
        "train_cases": len(train),
        "test_cases": len(test),
        "test_roll_rate": sum(labels) / len(labels),
        "auc": auc(scores, labels),
        "auc_risk_segment_only": auc(segment, labels),
        "log_loss": log_loss(scores, labels),
        "log_loss_base_rate": log_loss([base_rate] * len(labels), labels),
        "calibration": [
            {"predicted": p, "observed": o, "cases": n} for p, o, n in calibration(scores, labels)
        ],
        "seconds": round(time.perf_counter() - began, 1),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{args.debtors} debtors, {args.days} days; trained on seed {args.train_seed} "
        f"({report['train_cases']} bucket stays), judged on seed {args.test_seed} "
        f"({report['test_cases']} stays, {report['test_roll_rate']:.1%} rolled)"
    )
    print(f"  AUC {report['auc']:.3f} (risk segment alone: {report['auc_risk_segment_only']:.3f})")
    print(
        f"  log loss {report['log_loss']:.4f} "
        f"(always the training roll rate: {report['log_loss_base_rate']:.4f})"
    )
    print("  decile  predicted  observed  cases")
    for i, row in enumerate(report["calibration"]):
        print(f"  {i + 1:>6}  {row['predicted']:>9.3f}  {row['observed']:>8.3f}  {row['cases']:>5}")
    print(f"  {report['seconds']} s")
    return 0


def features_of(case: RiskCase) -> dict[str, float]:
    return risk_features(case.view, case.account_id)


if __name__ == "__main__":
    raise SystemExit(main())
