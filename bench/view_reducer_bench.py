"""Debtor-view reducer micro-benchmark: pure Python, no broker.

    python -m bench.view_reducer_bench [--debtors 2000] [--days 30]

Builds a realistic book (recaudo.demo.portfolio: profiles, a month of debt events)
plus contacts (dispatch decisions and channel responses, a few dozen per
debtor), then measures, per event, what the view processor does:

* apply alone (state kept in memory), overall and by kind of input;
* the processor's cycle: decode the stored bytes, apply, encode;
* encode and decode of final states, snapshot(), and bytes per debtor.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

from recaudo.contracts.records import ChannelResponse, ContactDecision, DebtorProfile, Event
from recaudo.demo.portfolio import generate
from recaudo.view import DebtorState, apply, snapshot

NAMESPACE = uuid.UUID("9f0d7c1e-5b2a-4e8f-a6d3-1c4b7e2f9a50")


def contacts(profile: DebtorProfile, rng: random.Random, days: int) -> Iterator[Event]:
    """A month of contacts: ~12 dispatches, each with its responses."""
    channels = [p.channel for p in profile.contact_points] or ["sms"]
    for n in range(rng.randint(6, 18)):
        channel = rng.choice(channels)
        at = profile.occurred_at + timedelta(days=rng.uniform(1, days), hours=rng.randint(8, 19))
        dispatch = f"{profile.debtor_id}-{n}"
        yield ContactDecision(
            event_id=uuid.uuid5(NAMESPACE, f"{dispatch}/decision"),
            occurred_at=at,
            source="orchestrator",
            debtor_id=profile.debtor_id,
            trigger="payment_missed",
            step=n,
            channel=channel,
            outcome="DISPATCHED",
            dispatch_id=dispatch,
        )
        statuses = ["ACCEPTED", "DELIVERED"]
        if rng.random() < 0.3:
            statuses.append("READ" if channel != "voice" else "CALL_ANSWERED")
        if rng.random() < 0.1:
            statuses.append("REPLIED" if channel != "voice" else "CALL_RIGHT_PARTY")
        if rng.random() < 0.05:
            statuses = ["ACCEPTED", "BOUNCED" if channel == "email" else "FAILED"]
        for i, status in enumerate(statuses):
            yield ChannelResponse(
                event_id=uuid.uuid5(NAMESPACE, f"{dispatch}/{status}"),
                occurred_at=at + timedelta(minutes=2 + 30 * i),
                source="connector",
                debtor_id=profile.debtor_id,
                dispatch_id=dispatch,
                channel=channel,
                status=status,
                provider="sim",
                error_code="30003" if status == "FAILED" else None,
            )


def book(n_debtors: int, days: int) -> list[Event]:
    rng = random.Random(11)
    events: list[Event] = list(generate(n_debtors, days=days))
    profiles = [e for e in events if isinstance(e, DebtorProfile)]
    for profile in profiles:
        events.extend(contacts(profile, rng, days))
    # Per debtor in event-time order (a partition's order), debtors interleaved.
    events.sort(key=lambda e: (e.occurred_at, str(e.event_id)))
    return events


def per_event(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:7.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debtors", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()

    events = book(args.debtors, args.days)
    kinds = Counter(getattr(e, "type", type(e).__name__) for e in events)
    print(f"{len(events):,} events over {args.debtors:,} debtors, {args.days} days")
    print("  " + ", ".join(f"{k} {v:,}" for k, v in kinds.most_common()))

    # 1. apply alone, state in memory (best of 3).
    best = float("inf")
    derived = 0
    states: dict[str, DebtorState] = {}
    for _ in range(3):
        states, derived = {}, 0
        t0 = time.perf_counter()
        for event in events:
            result = apply(states.get(event.debtor_id), event)
            states[event.debtor_id] = result.state
            derived += len(result.derived)
        best = min(best, time.perf_counter() - t0)
    print(
        f"apply:                    {per_event(best, len(events))} per event"
        f"  ({len(events) / best:,.0f} events/s on one core; {derived:,} derived)"
    )

    # 1b. apply by kind of input (one more pass, per-event timers).
    spent: dict[str, float] = {}
    seen: Counter[str] = Counter()
    states = {}
    clock = time.perf_counter
    for event in events:
        kind = getattr(event, "type", type(event).__name__)
        t0 = clock()
        states[event.debtor_id] = apply(states.get(event.debtor_id), event).state
        spent[kind] = spent.get(kind, 0.0) + clock() - t0
        seen[kind] += 1
    for kind, _ in seen.most_common():
        print(f"  apply {kind:<24} {per_event(spent[kind], seen[kind])}")

    # 2. the processor's cycle: decode, apply, encode (best of 3).
    best = float("inf")
    for _ in range(3):
        stored: dict[str, bytes] = {}
        t0 = time.perf_counter()
        for event in events:
            raw = stored.get(event.debtor_id)
            result = apply(DebtorState.decode(raw) if raw is not None else None, event)
            if result.changed:
                stored[event.debtor_id] = result.state.encode()
        best = min(best, time.perf_counter() - t0)
    print(
        f"decode + apply + encode:  {per_event(best, len(events))} per event"
        f"  ({len(events) / best:,.0f} events/s on one core)"
    )

    # 3. encode / decode / snapshot of the final states.
    final = list(states.values())
    blobs = [s.encode() for s in final]
    t0 = time.perf_counter()
    for s in final:
        s.encode()
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for b in blobs:
        DebtorState.decode(b)
    decode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in final:
        snapshot(s, s.debtor_id)
    snapshot_s = time.perf_counter() - t0
    print(f"encode:                   {per_event(encode_s, len(final))} per state")
    print(f"decode:                   {per_event(decode_s, len(final))} per state")
    print(f"snapshot:                 {per_event(snapshot_s, len(final))} per debtor")

    sizes = sorted(len(b) for b in blobs)
    print(
        f"state bytes per debtor:   median {statistics.median(sizes):,.0f}"
        f", mean {statistics.fmean(sizes):,.0f}, p90 {sizes[int(len(sizes) * 0.9)]:,}"
        f", p99 {sizes[int(len(sizes) * 0.99)]:,}, max {sizes[-1]:,}"
    )


if __name__ == "__main__":
    main()
