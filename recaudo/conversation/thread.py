"""A debtor's conversation as ``recaudo conversation show`` prints it, rebuilt
from the topics: the debtor's messages (``REPLIED`` channel responses), what
each was understood to say (the same model, so the same intent and
confidence), and what each caused, found by the deterministic ids the worker
gives them (the answer's dispatch, the debt events and channel responses of
the conversation, the agent task). Pure: the caller reads the records."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from recaudo.contracts.records import (
    AgentTask,
    ChannelResponse,
    DebtEvent,
    DispatchCommand,
    Envelope,
)
from recaudo.conversation.dialogue import CONVERSATION_NAMESPACE
from recaudo.conversation.step import TASK_NAMESPACE
from recaudo.kafka.topics import Topics
from recaudo.orchestration.ids import dispatch_id

#: the most events one message causes (an opt-out of every channel is four)
MAX_CAUSED = 8

#: (text, language) -> (intent, confidence)
Reader = Callable[[str, str], tuple[str, float]]


def thread_topics(topics: Topics) -> list[str]:
    """The topics a thread is rebuilt from: the messages, the answers on the
    messaging channels, the debt events, profiles and agent tasks."""
    return [
        topics.channel_responses,
        topics.debt_events,
        topics.debtor_profiles,
        topics.agent_tasks,
        *(topics.dispatch(c) for c in ("sms", "whatsapp", "email")),
    ]


def model_reader(now: datetime) -> Reader:
    """Each message read by the conversation's own model (the language
    detected, else the debtor's), for showing threads."""
    from recaudo.understanding.understand import understand

    def read(text: str, fallback: str) -> tuple[str, float]:
        understood = understand(
            text,
            language=None,
            time_zone="UTC",
            currency="USD",
            now=now,
            fallback_language=fallback,  # type: ignore[arg-type]
        )
        return understood.intent, understood.confidence

    return read


@dataclass(slots=True)
class Message:
    at: datetime
    channel: str
    text: str
    intent: str
    confidence: float
    caused: list[str] = field(default_factory=list)
    answer: DispatchCommand | None = None


def thread(
    debtor_id: str, records: Iterable[Envelope], language: str, read: Reader
) -> list[Message]:
    """The debtor's messages, oldest first, each with what it caused."""
    inbound: list[ChannelResponse] = []
    by_id: dict[str, Envelope] = {}
    answers: dict[str, DispatchCommand] = {}
    for record in records:
        if getattr(record, "debtor_id", None) != debtor_id:
            continue
        if isinstance(record, ChannelResponse) and record.status == "REPLIED":
            inbound.append(record)
        elif isinstance(record, DispatchCommand):
            answers[record.dispatch_id] = record
        elif isinstance(record, DebtEvent | ChannelResponse | AgentTask):
            by_id[str(record.event_id)] = record
    seen: set[str] = set()
    out: list[Message] = []
    for message in sorted(inbound, key=lambda r: (r.occurred_at, str(r.event_id))):
        key = str(message.event_id)
        if key in seen:
            continue  # a redelivery: answered once
        seen.add(key)
        intent, confidence = read(message.text or "", language)
        line = Message(message.occurred_at, message.channel, message.text or "", intent, confidence)
        for n in range(MAX_CAUSED):
            ref = uuid.uuid5(CONVERSATION_NAMESPACE, f"{debtor_id}/{key}/event/{n}")
            found = by_id.get(str(ref))
            if found is not None:
                line.caused.append(_describe(found))
        task = by_id.get(str(uuid.uuid5(TASK_NAMESPACE, f"{debtor_id}/{key}")))
        if isinstance(task, AgentTask):
            line.caused.append(f"agent task {task.task_id} ({task.reason}, {task.status})")
        line.answer = answers.get(dispatch_id(debtor_id, f"answer:{key}", 0, message.channel))
        out.append(line)
    return out


def _describe(record: Envelope) -> str:
    if isinstance(record, DebtEvent):
        payload = record.payload.model_dump(mode="json") if record.payload is not None else {}
        facts = ", ".join(
            f"{k}={v}"
            for k, v in payload.items()
            if k in ("promised_date", "amount_minor", "instalments", "first_due_date", "reason")
        )
        return f"{record.type} on {record.account_id}" + (f" ({facts})" if facts else "")
    if isinstance(record, ChannelResponse):
        return f"{record.status} on {record.channel}" + (
            f" ({record.error_code})" if record.error_code else ""
        )
    return type(record).__name__


def render(messages: list[Message]) -> str:
    if not messages:
        return "no messages from this debtor"
    lines: list[str] = []
    for m in messages:
        lines.append(
            f"{m.at:%Y-%m-%d %H:%M:%SZ}  {m.channel:<8} debtor: {m.text!r}\n"
            f"    understood: {m.intent} ({m.confidence:.2f})"
        )
        for caused in m.caused:
            lines.append(f"    caused: {caused}")
        if m.answer is not None:
            lines.append(
                f"    answered on {m.answer.channel} ({m.answer.template.split('.', 1)[-1]}): "
                f"{m.answer.body!r}"
            )
        else:
            lines.append("    no automatic answer")
    return "\n".join(lines)
