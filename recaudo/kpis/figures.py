"""The headline KPI figures: one name, one definition and one formula each.

The dashboard, the demo's summary and report, and ``recaudo kpis`` all read a
figure from here, so a figure shows the same number under the same name
everywhere, and its definition is printed beside it.

Cures come in two kinds that must not be mixed: a contact episode that ended
with the debtor back to current (``cured_after_contact``, what the funnel,
the per-channel, per-arm and per-bucket tables and the cure rate count, and
what adds up across channels) and a debtor who got current with no contact
in the episode (``cured_without_contact``). An episode is not a debtor: a
debtor who falls behind again after a cure is contacted in a new episode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from recaudo.contracts.money import format_money
from recaudo.kpis.conversations import format_duration, latency_percentile
from recaudo.kpis.counters import Counters, ratio


@dataclass(frozen=True, slots=True)
class Figure:
    """A headline figure: its key (JSON, ``data-figure``), label and definition."""

    key: str
    label: str
    definition: str
    #: The number from the counters; None when it has no denominator yet.
    value: Callable[[Counters], float | int | None]
    kind: str = "count"  # count, rate, ratio

    def format(self, c: Counters) -> str:
        return format_value(self.value(c), self.kind)


def format_value(value: float | int | None, kind: str) -> str:
    """Counts with thousands separators, rates as percentages, ratios to one
    decimal, durations as the bound they are under; a dash when there is
    nothing to divide by."""
    if kind == "duration":
        return format_duration(value)
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "ratio":
        return f"{value:.1f}"
    return f"{int(value):,}"


def cured_after_contact(c: Counters) -> int:
    return c.contacted_cures


def cured_without_contact(c: Counters) -> int:
    return max(c.cures - c.contacted_cures, 0)


def contact_episodes(c: Counters) -> int:
    return c.episodes


CONTACTS = Figure(
    "contacts",
    "Contacts",
    "Contacts dispatched to a channel (suppressed and deferred decisions are not contacts).",
    lambda c: c.contacts,
)
DELIVERY_RATE = Figure(
    "delivery_rate",
    "Delivery rate",
    "Contacts that reached the debtor's device or line / contacts.",
    lambda c: ratio(c.delivered, c.contacts),
    "rate",
)
RIGHT_PARTY_RATE = Figure(
    "right_party_rate",
    "Right-party contact",
    "Calls answered by the debtor / calls.",
    lambda c: ratio(c.right_party, c.calls),
    "rate",
)
REPLY_RATE = Figure(
    "reply_rate",
    "Reply rate",
    "Messages replied to / messages (contacts other than calls).",
    lambda c: ratio(c.replied, c.contacts - c.calls),
    "rate",
)
PROMISE_RATE = Figure(
    "promise_rate",
    "Promise-to-pay rate",
    "Promises to pay / contacts.",
    lambda c: ratio(c.promises, c.contacts),
    "rate",
)
PROMISE_KEPT_RATE = Figure(
    "promise_kept_rate",
    "Promises kept",
    "Promises kept / promises that came due (kept + broken).",
    lambda c: ratio(c.promises_kept, c.promises_kept + c.promises_broken),
    "rate",
)
CONTACT_EPISODES = Figure(
    "contact_episodes",
    "Contact episodes",
    "A debtor's contacts from the first one until they are cured; a debtor who falls "
    "behind again after a cure starts another episode, so this counts episodes, not debtors.",
    contact_episodes,
)
CURED_AFTER_CONTACT = Figure(
    "cured_after_contact",
    "Cured after contact",
    "Contact episodes that ended with the debtor back to current, credited to the "
    "episode's last contact (its channel, arm and the bucket the debtor left).",
    cured_after_contact,
)
CURED_WITHOUT_CONTACT = Figure(
    "cured_without_contact",
    "Cured without contact",
    "Debtors back to current with no contact since they fell behind (self-cures).",
    cured_without_contact,
)
CURE_RATE = Figure(
    "cure_rate",
    "Cure rate",
    "Cured after contact / contact episodes.",
    lambda c: ratio(c.contacted_cures, c.episodes),
    "rate",
)
CONTACTS_PER_CURE = Figure(
    "contacts_per_cure",
    "Contacts per cure",
    "Contacts in the episodes cured after contact / cured after contact.",
    lambda c: ratio(c.contacts_to_cure, c.contacted_cures),
    "ratio",
)
PAYMENTS = Figure("payments", "Payments", "Payments received.", lambda c: c.payments)

#: The headline figures, in the order the pages list them.
HEADLINE: tuple[Figure, ...] = (
    CONTACTS,
    DELIVERY_RATE,
    RIGHT_PARTY_RATE,
    REPLY_RATE,
    PROMISE_RATE,
    PROMISE_KEPT_RATE,
    CONTACT_EPISODES,
    CURED_AFTER_CONTACT,
    CURE_RATE,
    CONTACTS_PER_CURE,
    CURED_WITHOUT_CONTACT,
    PAYMENTS,
)

MESSAGES_UNDERSTOOD = Figure(
    "messages_understood_rate",
    "Replies understood",
    "Inbound messages whose intent the model read with confidence (the dialogue acted "
    "on it, not asked again or handed it to a person for not understanding) / inbound "
    "messages read.",
    lambda c: ratio(c.messages_understood, c.messages_read),
    "rate",
)
CONVERSATIONS = Figure(
    "conversations",
    "Conversations",
    "Conversations opened: a debtor's message when none was open, or after 48 hours of silence.",
    lambda c: c.conversations,
)
RESOLVED_WITHOUT_HUMAN = Figure(
    "resolved_without_human_rate",
    "Resolved without a person",
    "Conversations that ended in a promise, a payment plan, an opt-out, a payment or an "
    "acknowledgement with no agent task opened / conversations.",
    lambda c: ratio(c.conversations_resolved, c.conversations),
    "rate",
)
CONVERSATION_PROMISES = Figure(
    "conversation_promises",
    "Promises in conversations",
    "Promises to pay agreed in a conversation (also counted in the promise-to-pay rate).",
    lambda c: c.conversation_promises,
)
CONVERSATION_PLANS = Figure(
    "conversation_plans",
    "Plans in conversations",
    "Payment plans agreed in a conversation.",
    lambda c: c.conversation_plans,
)
HANDOFFS = Figure(
    "handoffs",
    "Handed to a person",
    "Agent tasks opened (a person takes the conversation over), by reason below.",
    lambda c: c.handoffs,
)
ANSWER_P50 = Figure(
    "answer_time_p50",
    "Time to answer, median",
    "From a debtor's message to the dispatch of its first answer (event time), half "
    "of the answered messages within: the bound of the histogram bucket it falls in.",
    lambda c: latency_percentile(c.answer_latency_ms, 0.5),
    "duration",
)
ANSWER_P90 = Figure(
    "answer_time_p90",
    "Time to answer, p90",
    "As the median, for nine answered messages in ten.",
    lambda c: latency_percentile(c.answer_latency_ms, 0.9),
    "duration",
)

#: The conversation figures, in the order the pages list them.
CONVERSATION: tuple[Figure, ...] = (
    MESSAGES_UNDERSTOOD,
    CONVERSATIONS,
    RESOLVED_WITHOUT_HUMAN,
    CONVERSATION_PROMISES,
    CONVERSATION_PLANS,
    HANDOFFS,
    ANSWER_P50,
    ANSWER_P90,
)

RECOVERED_DEFINITION = "Payments received, per currency (currencies are never added up)."


def recovered_lines(amounts: dict[str, int]) -> list[str]:
    """One line per currency, in currency order (amounts in different
    currencies are never added or ranked); none when nothing was recovered."""
    return [format_money(minor, currency) for currency, minor in sorted(amounts.items())]
