"""Example conversations for the demo's report: one thread that ended in each
of a promise, a payment plan, an opt-out and a handoff to a person, rebuilt
from the topics as ``recaudo conversation show`` rebuilds them (each message
with its intent, the answer sent and what it caused).

Picking the examples is pure (:func:`pick_examples`); reading the topics and
the intent model are at the edge (:func:`example_threads`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Final

from recaudo.contracts.records import AgentTask, ChannelResponse, DebtEvent, DebtorProfile, Envelope
from recaudo.conversation.thread import Message, model_reader, render, thread, thread_topics
from recaudo.kpis.conversations import CONVERSATION_SOURCE
from recaudo.orchestration.templates import language_of
from recaudo.settings import Settings

log = logging.getLogger(__name__)

#: How a conversation ended, as the report names it, in the order it shows them.
ENDINGS: Final = ("promise", "plan", "opt-out", "handoff")
#: The latest messages of a thread shown (a long one is cut from the start).
SHOWN_MESSAGES: Final = 6

#: (text, fallback language) -> (intent, confidence)
Reader = Callable[[str, str], tuple[str, float]]


def ending_of(record: Envelope) -> str | None:
    """The conversation ending a record is, if it is one."""
    if isinstance(record, AgentTask):
        return "handoff" if record.status == "OPEN" else None
    if getattr(record, "source", None) != CONVERSATION_SOURCE:
        return None
    if isinstance(record, DebtEvent):
        return {"PROMISE_TO_PAY": "promise", "PAYMENT_PLAN_AGREED": "plan"}.get(record.type)
    if isinstance(record, ChannelResponse) and record.status == "OPTED_OUT":
        return "opt-out"
    return None


def pick_examples(records: Iterable[Envelope]) -> dict[str, str]:
    """Ending -> the debtor whose conversation shows it: the one with that
    ending and the fewest messages (the shortest story), a debtor shown once."""
    messages: dict[str, int] = {}
    endings: dict[str, set[str]] = {ending: set() for ending in ENDINGS}
    for record in records:
        if isinstance(record, ChannelResponse) and record.status == "REPLIED":
            messages[record.debtor_id] = messages.get(record.debtor_id, 0) + 1
        ending = ending_of(record)
        debtor = getattr(record, "debtor_id", None)
        if ending is not None and debtor is not None:
            endings[ending].add(debtor)
    picked: dict[str, str] = {}
    for ending in ENDINGS:
        candidates = sorted(
            (d for d in endings[ending] if d not in picked.values() and messages.get(d)),
            key=lambda d: (messages[d], d),
        )
        if candidates:
            picked[ending] = candidates[0]
    return picked


def render_examples(
    records: list[Envelope], read: Reader, limit: int = SHOWN_MESSAGES
) -> list[str]:
    """The report's lines: a heading per ending, then its thread."""
    languages = {r.debtor_id: r.preferred_language for r in records if isinstance(r, DebtorProfile)}
    lines: list[str] = []
    for ending, debtor in pick_examples(records).items():
        messages: list[Message] = thread(debtor, records, language_of(languages.get(debtor)), read)
        cut = len(messages) - limit
        article = "an" if ending[0] in "aeiou" else "a"
        lines.append(f"A conversation that ended in {article} {ending}: {debtor}")
        if cut > 0:
            lines.append(f"    ({cut} earlier message(s) left out)")
        lines.extend("    " + line for line in render(messages[-limit:]).splitlines())
    return lines


def read_records(settings: Settings) -> list[Envelope]:
    """What the threads are rebuilt from: messages, answers on the messaging
    channels, the debt events, profiles and agent tasks, from the beginning."""
    from recaudo.kafka.serde import Serde
    from recaudo.kafka.topic_reader import read_topics

    serde = Serde(settings)
    names = thread_topics(serde.topics)
    out: list[Envelope] = []
    for msg in read_topics(settings, names):
        try:
            out.append(serde.deserialize(msg.topic() or "", msg.value()))
        except Exception as exc:  # the consumer that met it dead-lettered it already
            log.debug("left out an unreadable record of %s: %s", msg.topic(), exc)
    return out


def example_threads(settings: Settings) -> list[str]:
    """Example threads of the running pipeline, read with the conversation's model."""
    return render_examples(read_records(settings), model_reader(datetime.now(UTC)))
