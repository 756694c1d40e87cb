"""Static champion against learner challenger in the collections simulator.

    python -m bench.learning_bench                       # 20000 debtors, 90 days, 5 seeds
    python -m bench.learning_bench --debtors 2000 --days 30 --seeds 2   # quick
    python -m bench.learning_bench --mix static-right --json

Each seed builds the same book for both policies (recaudo.learning.simulation)
and runs them in-process, without Kafka. Per policy: cure rate, contacts per
cured debtor, amount recovered (USD cents at the simulator's fixed rates),
channel cost, opt-outs and rule violations, each as the mean over seeds with
a 95 % Student t interval (n - 1 degrees of freedom); the learner's decision
cost (allowed actions, features and the bandit's choice) in microseconds;
and, per simulated week, each policy's contacts per cure and the learner's
reduction. The target line compares the seed-paired differences.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from recaudo.learning.simulation import MIXES, Metrics, PolicyName, SimConfig, simulate

# Two-sided 95 % Student t quantiles by degrees of freedom (1..30); beyond: normal.
T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
FIELDS = ("cure_rate", "contacts_per_cure", "recovered_minor", "cost", "opt_outs", "violations")


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """The mean's 95 % t interval; a single value is its own interval."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return (mean, mean)
    t = T975[len(values) - 2] if len(values) - 1 <= len(T975) else 1.96
    half = t * statistics.stdev(values) / math.sqrt(len(values))
    return (mean - half, mean + half)


def _value(m: Metrics, name: str) -> float:
    return float(getattr(m, name))


def summary(runs: Sequence[Metrics]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS:
        values = [_value(m, name) for m in runs]
        out[name] = statistics.fmean(values)
        out[f"{name}_ci95"] = list(t_interval(values))
    out["delinquent"] = statistics.fmean(m.delinquent for m in runs)
    out["contacts"] = statistics.fmean(m.contacts for m in runs)
    out["waits"] = statistics.fmean(m.waits for m in runs)
    decisions = sum(m.decisions for m in runs)
    out["decision_us"] = sum(m.decision_ns for m in runs) / decisions / 1000 if decisions else None
    weeks = min(len(m.weekly_cures) for m in runs)
    out["weekly_contacts_per_cure"] = [
        statistics.fmean(m.weekly_contacts[w] / max(1, m.weekly_cures[w]) for m in runs)
        for w in range(weeks)
    ]
    return out


def paired(static: Sequence[Metrics], learned: Sequence[Metrics]) -> dict[str, Any]:
    """Seed-paired differences: the learner's reduction in contacts per cure
    (a share of the static figure) and its cure-rate difference."""
    reduction = [
        1 - lm.contacts_per_cure / sm.contacts_per_cure
        for sm, lm in zip(static, learned, strict=True)
    ]
    cure_diff = [lm.cure_rate - sm.cure_rate for sm, lm in zip(static, learned, strict=True)]
    r_ci, c_ci = t_interval(reduction), t_interval(cure_diff)
    violations = sum(m.violations for m in (*static, *learned))
    return {
        "contacts_per_cure_reduction": statistics.fmean(reduction),
        "contacts_per_cure_reduction_ci95": list(r_ci),
        "cure_rate_difference": statistics.fmean(cure_diff),
        "cure_rate_difference_ci95": list(c_ci),
        "target_met": statistics.fmean(reduction) >= 0.30 and c_ci[0] >= 0 and violations == 0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.learning_bench",
        description=(
            "Run the static contact strategy and the learner in the collections simulator "
            "over several seeds and print each policy's outcomes with 95% t intervals."
        ),
    )
    parser.add_argument(
        "--debtors", type=int, default=20_000, help="debtors in the book (default 20000)"
    )
    parser.add_argument("--days", type=int, default=90, help="simulated days (default 90)")
    parser.add_argument(
        "--seeds", type=int, default=5, help="seeds 0..N-1, one book each (default 5)"
    )
    parser.add_argument(
        "--mix",
        choices=MIXES,
        default="default",
        help="persona mix: 'default' (preferences follow age, engagement and bucket) or "
        "'static-right' (each debtor prefers what the static strategy sends first)",
    )
    parser.add_argument(
        "--learner-channels",
        choices=("all", "step"),
        default="all",
        help="the learner picks among every channel (default) or only the cadence step's "
        "channels, as the static strategy does",
    )
    defaults = SimConfig()
    parser.add_argument(
        "--epsilon",
        type=float,
        default=defaults.learner.epsilon,
        help=f"the learner's epsilon-greedy exploration (default {defaults.learner.epsilon})",
    )
    parser.add_argument(
        "--exploration",
        choices=("epsilon", "squarecb"),
        default=defaults.learner.exploration,
        help=f"how the learner explores (default {defaults.learner.exploration})",
    )
    parser.add_argument(
        "--gamma-scale",
        type=float,
        default=defaults.learner.gamma_scale,
        help=f"SquareCB's aggressiveness (default {defaults.learner.gamma_scale})",
    )
    parser.add_argument(
        "--contact-cost",
        type=float,
        default=defaults.rewards.contact_cost,
        help="reward charge per contact on top of the channel's cost "
        f"(default {defaults.rewards.contact_cost})",
    )
    parser.add_argument(
        "--fatigue-cost",
        type=float,
        default=defaults.rewards.fatigue_cost,
        help="reward charge per contact the debtor had in the 7 days before "
        f"(default {defaults.rewards.fatigue_cost})",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="do not offer the learner 'no contact now': it always contacts when it may",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="do not tell the learner the static strategy's choice",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of tables"
    )
    args = parser.parse_args(argv)
    if args.debtors < 1 or args.days < 1 or args.seeds < 1:
        parser.error("--debtors, --days and --seeds must be at least 1")

    runs: dict[str, list[Metrics]] = {"static": [], "learned": []}
    began = time.perf_counter()
    policies: tuple[PolicyName, ...] = ("static", "learned")
    for seed in range(args.seeds):
        config = SimConfig(
            debtors=args.debtors,
            days=args.days,
            seed=seed,
            mix=args.mix,
            learner=replace(
                defaults.learner,
                epsilon=args.epsilon,
                exploration=args.exploration,
                gamma_scale=args.gamma_scale,
            ),
            rewards=replace(
                defaults.rewards, contact_cost=args.contact_cost, fatigue_cost=args.fatigue_cost
            ),
            learner_channels=args.learner_channels,
            learner_wait=not args.no_wait,
            learner_baseline=not args.no_baseline,
        )
        for policy in policies:
            runs[policy].append(simulate(config, policy))
            if not args.json:
                print(f"seed {seed} {policy}: done", file=sys.stderr)
    report: dict[str, Any] = {name: summary(r) for name, r in runs.items()}
    report["comparison"] = paired(runs["static"], runs["learned"])
    report["config"] = {
        "debtors": args.debtors,
        "days": args.days,
        "seeds": args.seeds,
        "mix": args.mix,
        "learner_channels": args.learner_channels,
        "exploration": args.exploration,
        "gamma_scale": args.gamma_scale,
        "epsilon": args.epsilon,
        "contact_cost": args.contact_cost,
        "fatigue_cost": args.fatigue_cost,
        "wait": not args.no_wait,
        "baseline": not args.no_baseline,
        "interval": "95% Student t over seeds",
        "seconds": round(time.perf_counter() - began, 1),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{args.debtors} debtors, {args.days} days, {args.seeds} seeds, mix {args.mix}, "
        f"learner channels {args.learner_channels}; "
        "mean over seeds [95% t interval]"
    )
    for name in FIELDS:
        cells = []
        for policy in ("static", "learned"):
            r = report[policy]
            lo, hi = r[f"{name}_ci95"]
            cells.append(f"{policy} {r[name]:.4g} [{lo:.4g}, {hi:.4g}]")
        print(f"  {name:<18} " + "   ".join(cells))
    print(f"  learner decision cost: {report['learned']['decision_us']:.0f} µs")
    print(
        f"  contacts made: static {report['static']['contacts']:.0f}, learned "
        f"{report['learned']['contacts']:.0f} (and {report['learned']['waits']:.0f} steps "
        "the learner passed without a contact)"
    )
    comparison = report["comparison"]
    lo, hi = comparison["contacts_per_cure_reduction_ci95"]
    print(
        f"  contacts per cure reduction: {comparison['contacts_per_cure_reduction']:.1%} "
        f"[{lo:.1%}, {hi:.1%}]"
    )
    lo, hi = comparison["cure_rate_difference_ci95"]
    print(
        f"  cure rate difference: {comparison['cure_rate_difference']:+.4f} [{lo:+.4f}, {hi:+.4f}]"
    )
    print(
        f"  target (>= 30% fewer contacts per cure, no cure loss, no violation): "
        f"{'met' if comparison['target_met'] else 'not met'}"
    )
    print("  week  static c/cure  learned c/cure  reduction")
    for w, (s, lr) in enumerate(
        zip(
            report["static"]["weekly_contacts_per_cure"],
            report["learned"]["weekly_contacts_per_cure"],
            strict=True,
        )
    ):
        print(f"  {w + 1:>4}  {s:>13.2f}  {lr:>14.2f}  {1 - lr / s if s else 0:>9.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
