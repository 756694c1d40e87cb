"""Decisions per second of ``recaudo.policy.evaluate`` for realistic debtors.

    python -m bench.policy_bench --decisions 200000

Per preset: 64 debtors with three debts, consent and valid addresses on every
channel, and the contacts of the last two weeks that a sender obeying the
preset would have made; candidates on every channel at instants spread over
a day (so the mix holds dispatches, deferrals to the next window and cap
deferrals). Prints decisions/s, the mean history length and the outcome
mix; nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from recaudo.policy import (
    CHANNELS,
    PRESETS,
    Candidate,
    Contact,
    DebtState,
    PolicyContext,
    RuleSet,
    evaluate,
    trim_history,
)

HOME = {
    "us_reg_f": ("America/New_York", "US", None),
    "co_ley_2300": ("America/Bogota", "CO", None),
    "cl_ley_19496": ("America/Santiago", "CL", None),
    "mx_condusef": ("America/Mexico_City", "MX", None),
    "pe_ley_29571": ("America/Lima", "PE", None),
    "br_sp": ("America/Sao_Paulo", "BR", "SP"),
}
START = datetime(2025, 3, 1, tzinfo=UTC)
DEBTS = ("A1", "A2", "A3")


def lawful_history(
    base: PolicyContext, rules: RuleSet, now: datetime, rng: random.Random
) -> tuple[Contact, ...]:
    """Two weeks of contacts as a sender obeying the engine would have made
    them: a contact attempt every few hours, mostly on the debtor's
    preferred channel, one in ten a conversation."""
    preferred = rng.choice(CHANNELS)
    history: list[Contact] = []
    at = now - timedelta(days=14)
    while at < now:
        channel = preferred if rng.random() < 0.7 else rng.choice(CHANNELS)
        cand = Candidate("D1", rng.choice(DEBTS), channel, "instalment_due", 0)
        ctx = replace(base, history=tuple(history))
        if evaluate(ctx, cand, at, rules).outcome == "DISPATCH":
            history.append(Contact(at, channel, cand.debt_id, rng.random() < 0.1))
        at += timedelta(minutes=rng.randrange(60, 8 * 60))
    return trim_history(history, now, rules)


def workload(
    jurisdiction: str, n: int, seed: int
) -> tuple[list[tuple[PolicyContext, Candidate, datetime]], float]:
    """``n`` evaluations over 64 debtors, and their mean history length."""
    rng = random.Random(seed)
    zone, country, subdivision = HOME[jurisdiction]
    rules = PRESETS[jurisdiction]
    contexts = []
    for _ in range(64):
        now = START + timedelta(minutes=rng.randrange(30 * 24 * 60))
        base = PolicyContext(
            time_zone=zone,
            country=country,
            subdivision=subdivision,
            jurisdiction=jurisdiction,
            debts={debt: DebtState() for debt in DEBTS},
            consent=frozenset(CHANNELS),
            valid_addresses=frozenset(CHANNELS),
        )
        contexts.append((now, replace(base, history=lawful_history(base, rules, now, rng))))
    cases = []
    for i in range(n):
        now, ctx = contexts[i % len(contexts)]
        channel = CHANNELS[i % len(CHANNELS)]
        at = now + timedelta(minutes=(i * 37) % (24 * 60))
        cases.append((ctx, Candidate("D1", DEBTS[i % 3], channel, "instalment_due", 0), at))
    mean = sum(len(ctx.history) for _, ctx in contexts) / len(contexts)
    return cases, mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=100_000, help="per preset")
    args = parser.parse_args()
    total_n, total_s = 0, 0.0
    for jurisdiction, rules in PRESETS.items():
        cases, history = workload(jurisdiction, args.decisions, seed=7)
        for ctx, cand, now in cases[:1000]:  # warm the zone and holiday caches
            evaluate(ctx, cand, now, rules)
        outcomes: Counter[str] = Counter()
        began = time.perf_counter()
        for ctx, cand, now in cases:
            outcomes[evaluate(ctx, cand, now, rules).outcome] += 1
        elapsed = time.perf_counter() - began
        total_n, total_s = total_n + len(cases), total_s + elapsed
        mix = "  ".join(f"{k} {v / len(cases):.0%}" for k, v in sorted(outcomes.items()))
        print(
            f"{jurisdiction:<14} {len(cases) / elapsed:>10,.0f} decisions/s"
            f"   history {history:4.1f} contacts   {mix}"
        )
    print(f"{'all':<14} {total_n / total_s:>10,.0f} decisions/s")


if __name__ == "__main__":
    main()
