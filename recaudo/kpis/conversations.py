"""Conversation KPIs as pure logic: what a conversation is to the KPI stream,
and the time-to-answer histogram.

A conversation opens with a debtor's inbound message when none is open (or
the open one has been silent for :data:`CONVERSATION_IDLE_MS`, the longest an
offer waits for an answer) and ends at the first of:

* a promise or a payment plan agreed in it, an opt-out it recorded, a payment
  received, or an acknowledgement (a message read as ``thanks_ack``):
  *resolved without a human*, unless an agent task was opened in it;
* an agent task opened for the debtor: *handed off*, never resolved.

The intent of a message comes from a :data:`Reader` the caller injects (the
stream uses the same model as the conversation worker), so this module needs
no model and tests feed it plain answers.

Time to first answer: for each inbound message, from its event time to the
dispatch decision of its first answer (``reply_received`` decisions name the
message as their trigger event). Percentiles do not add up across windows,
so the KPI keeps a histogram of fixed bounds, which does, and reads the
percentile off it as the bound of the bucket it falls in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

#: (text) -> (intent, confident): what the model read and whether the
#: dialogue would act on it (a known intent at or above its confidence floor)
Reader = Callable[[str], tuple[str, bool]]

#: The source of what a conversation causes (the dialogue's events and the
#: agent tasks it opens).
CONVERSATION_SOURCE: Final = "recaudo.conversation"
#: The decision trigger of an answer to a debtor's message.
ANSWER_TRIGGER: Final = "reply_received"
ACKNOWLEDGEMENT: Final = "thanks_ack"
#: A conversation silent this long is over (the dialogue's offers lapse at 48 h).
CONVERSATION_IDLE_MS: Final = 48 * 3600 * 1000
#: Messages remembered while they wait for their answer, per debtor.
AWAITING_ANSWERS: Final = 16

#: Upper bounds (ms) of the time-to-answer histogram; a slower answer falls
#: in the overflow bucket :data:`OVERFLOW`.
LATENCY_BOUNDS_MS: Final[tuple[int, ...]] = (
    100,
    250,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    30_000,
    60_000,
    300_000,
    900_000,
    3_600_000,
    14_400_000,
    86_400_000,
)
OVERFLOW: Final = "more"


def latency_bucket(ms: int) -> str:
    """The histogram key of an answer that took ``ms`` (a negative time, from
    clocks that disagree, is counted as immediate)."""
    for bound in LATENCY_BOUNDS_MS:
        if ms <= bound:
            return str(bound)
    return OVERFLOW


def latency_percentile(histogram: dict[str, int], q: float) -> float | None:
    """The upper bound (ms) of the bucket holding the ``q`` quantile (0 < q <= 1);
    ``math.inf`` when it is in the overflow bucket, None with no answers."""
    if not 0 < q <= 1:
        raise ValueError(f"quantile {q}: expected 0 < q <= 1")
    total = sum(histogram.values())
    if total <= 0:
        return None
    need = math.ceil(q * total)
    seen = 0
    for bound in LATENCY_BOUNDS_MS:
        seen += histogram.get(str(bound), 0)
        if seen >= need:
            return float(bound)
    return math.inf


def format_duration(ms: float | None) -> str:
    """A histogram bound as read: ``≤ 250 ms``, ``≤ 5 s``, ``≤ 15 min``,
    ``≤ 4 h``; ``> 1 d`` for the overflow; a dash with no answers."""
    if ms is None:
        return "—"
    if math.isinf(ms):
        return f"> {format_duration(LATENCY_BOUNDS_MS[-1])[2:]}"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1_000)):
        if ms >= size and ms % size == 0:
            return f"≤ {int(ms // size)} {unit}"
    return f"≤ {int(ms)} ms"
