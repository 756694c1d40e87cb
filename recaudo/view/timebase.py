"""Time as integers: the state keeps milliseconds and days since the Unix epoch.

Integers sort, compare and encode faster and smaller than datetimes, and their
arithmetic never rounds. Nothing here reads the wall clock: every "now" in the
view is an event time or the argument of :func:`recaudo.view.reducer.tick`.

Days are UTC days. Days past due are counted in UTC days from the due date
(a date with no time zone), so a debtor's time zone arriving late in a profile
never moves an account's history by a day.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: date(1970, 1, 1).toordinal()
EPOCH_ORDINAL = 719_163
#: The last time zone on Earth (UTC-12, "anywhere on Earth") ends a day 12 h
#: after UTC does: a promise is broken only once its date is over everywhere,
#: which needs no time zone and is never early for the debtor.
AOE_MS = 12 * HOUR_MS
_MASK64 = (1 << 64) - 1


def to_ms(value: datetime) -> int:
    # Event times are millisecond-truncated (events.Timestamp), so the float
    # product is within far less than half a millisecond of the integer.
    return round(value.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


def to_day(value: date) -> int:
    return value.toordinal() - EPOCH_ORDINAL


def from_day(value: int) -> date:
    return date.fromordinal(value + EPOCH_ORDINAL)


def day_of(ms: int) -> int:
    return ms // DAY_MS


def promise_deadline(promised_day: int) -> int:
    """First millisecond after ``promised_day`` everywhere on Earth."""
    return (promised_day + 1) * DAY_MS + AOE_MS


def key64(text: str) -> int:
    """A stable unsigned 64-bit hash of an identifier (payment, dispatch) whose
    only use is equality: 8 bytes whatever the identifier's length."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def tie64(event_id: uuid.UUID) -> int:
    """64 bits of an event id, both halves folded so time-ordered ids (v1, v7)
    still differ within one millisecond. Breaks event-time ties and names a fact."""
    value = event_id.int
    return (value >> 64) ^ (value & _MASK64)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_hour(ms: int, time_zone: str | None) -> int:
    """Hour of the day (0-23) at ``ms`` in ``time_zone`` (UTC when unknown)."""
    zone = _zone(time_zone) if time_zone else None
    if zone is None:
        return (ms // HOUR_MS) % 24
    return from_ms(ms).astimezone(zone).hour
