"""Per-member aggregation: hourly event-time tumbling windows and a running total.

Runs keyed by dimension member (``CHANNEL:sms``), after the attribution
re-keyed each contribution there. Windows are event time (the time the event
says it happened, not when it was read), so a replay or an accelerated clock
fills the same windows. A late contribution still updates its own window
while that window is held (``WINDOW_RETENTION_MS``), and the running total
always.

Duplicates: a contribution carries the topic, partition and offset of the
input event it came from. One partition's contributions to one member arrive in
offset order, so an offset at or below the last one applied from that
partition is a redelivery (a worker that crashed after producing, before
committing) and is skipped: counters never double.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import orjson

from recaudo.kpis.attribution import Attribution, Dimension
from recaudo.kpis.counters import Counters

Period = Literal["HOUR", "TOTAL"]
WINDOW_MS = 3600 * 1000
#: Hourly windows are kept (and late events counted in them) for this long
#: behind the newest event of the member; a month and a bit.
WINDOW_RETENTION_MS = 35 * 24 * WINDOW_MS
TOTAL_START_MS = 0


def window_start(at_ms: int) -> int:
    return at_ms - at_ms % WINDOW_MS


def member_key(dimension: str, member: str) -> str:
    """The Kafka key of a member: its dimension and its value."""
    return f"{dimension}:{member}"


@dataclass(frozen=True, slots=True)
class Contribution:
    """One attribution for one member, as it travels between the two stages.

    ``counts`` is the sparse form of :class:`Counters` (only what is non-zero):
    the hot path adds dicts and never builds dataclasses.
    """

    dimension: Dimension
    member: str
    at_ms: int
    source: str  # "topic:partition" of the input event
    offset: int
    counts: dict[str, Any]

    @property
    def key(self) -> str:
        return member_key(self.dimension, self.member)

    @property
    def counters(self) -> Counters:
        return Counters.from_dict(self.counts)

    def to_json(self) -> dict[str, Any]:
        return {
            "d": self.dimension,
            "m": self.member,
            "at": self.at_ms,
            "src": self.source,
            "off": self.offset,
            "c": self.counts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Contribution:
        return cls(data["d"], data["m"], data["at"], data["src"], data["off"], data["c"])


def contributions(
    attributions: list[Attribution], topic: str, partition: int, offset: int
) -> list[Contribution]:
    """Spread an event's attributions over their members (one per member)."""
    merged: dict[tuple[Dimension, str], tuple[int, Counters]] = {}
    for attribution in attributions:
        for dimension, member in attribution.touch.members():
            _, counters = merged.setdefault((dimension, member), (attribution.at_ms, Counters()))
            counters.add(attribution.counters)
    source = f"{topic}:{partition}"
    return [
        Contribution(dimension, member, at, source, offset, counters.to_dict(sparse=True))
        for (dimension, member), (at, counters) in merged.items()
    ]


def add_counts(into: dict[str, Any], more: dict[str, Any]) -> None:
    """Add sparse counters (maps included) into ``into``."""
    for name, value in more.items():
        if isinstance(value, dict):
            held = into.setdefault(name, {})
            for key, amount in value.items():
                held[key] = held.get(key, 0) + amount
        else:
            into[name] = into.get(name, 0) + value


@dataclass(frozen=True, slots=True)
class KpiRow:
    """A member's counters over one window (or the running total), as published."""

    dimension: str
    member: str
    period: Period
    window_start_ms: int
    revision: int  # contributions applied: a later row of the same window is higher
    last_event_ms: int
    counts: dict[str, Any]  # sparse counters (a copy: the state moves on)

    @property
    def counters(self) -> Counters:
        return Counters.from_dict(self.counts)

    @property
    def window_end_ms(self) -> int | None:
        return self.window_start_ms + WINDOW_MS if self.period == "HOUR" else None

    @property
    def ident(self) -> tuple[str, str, str, int]:
        return (self.dimension, self.member, self.period, self.window_start_ms)

    @staticmethod
    def time(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)


class Store(Protocol):
    """What :func:`aggregate` needs of the member's state (quixstreams' State fits)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: bytes) -> None: ...

    def delete(self, key: str) -> None: ...


#: State keys: one for what every contribution touches (applied offsets, the
#: running total, the hours held), one per hour: two reads and two writes each.
META_KEY = "m"


def _window_key(start: int) -> str:
    return f"w{start}"


def aggregate(store: Store, c: Contribution) -> list[KpiRow]:
    """Apply one contribution to its member's windows; the rows it changed."""
    raw = store.get(META_KEY)
    # [applied offset per source partition, total [revision, last event, counts], hours held]
    meta: list[Any] = orjson.loads(raw) if raw else [{}, [0, 0, {}], []]
    seen: dict[str, int] = meta[0]
    total: list[Any] = meta[1]
    held: list[int] = meta[2]
    if seen.get(c.source, -1) >= c.offset:
        return []
    seen[c.source] = c.offset
    total[0] += 1
    total[1] = max(total[1], c.at_ms)
    add_counts(total[2], c.counts)
    rows = [_row(c, "TOTAL", TOTAL_START_MS, total)]

    horizon = total[1] - WINDOW_RETENTION_MS
    start = window_start(c.at_ms)
    if start + WINDOW_MS > horizon:
        key = _window_key(start)
        window_raw = store.get(key)
        window: list[Any] = orjson.loads(window_raw) if window_raw else [0, 0, {}]
        window[0] += 1
        window[1] = max(window[1], c.at_ms)
        add_counts(window[2], c.counts)
        store.set(key, orjson.dumps(window))
        rows.append(_row(c, "HOUR", start, window))
        if start not in held:
            held.append(start)
    # Hours that fell out of retention leave the state (the table keeps them).
    if held and held[0] + WINDOW_MS <= horizon:
        for gone in [s for s in held if s + WINDOW_MS <= horizon]:
            store.delete(_window_key(gone))
        held = [s for s in held if s + WINDOW_MS > horizon]
    held.sort()
    store.set(META_KEY, orjson.dumps([seen, total, held]))
    return rows


def _row(c: Contribution, period: Period, start: int, agg: list[Any]) -> KpiRow:
    counts = {k: (dict(v) if isinstance(v, dict) else v) for k, v in agg[2].items()}
    return KpiRow(c.dimension, c.member, period, start, agg[0], agg[1], counts)
