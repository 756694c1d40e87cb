"""One debtor's message through the conversation, as the stream worker runs
it: understood in the debtor's language, zone and currency at the injected
``now``, answered by the dialogue, the answer dispatched through the
orchestrator's policy (:meth:`~recaudo.orchestration.Orchestrator.answer`),
and a handoff turned into an agent task. Pure: no Kafka, no clock; the
worker keeps the state and produces what :class:`Step` holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from recaudo.conversation.dialogue import (
    Handoff,
    HandoffReason,
    answer_expires_at,
    close_handoff,
    negotiated_account,
    respond,
)
from recaudo.conversation.state import ConversationState, TurnRecord
from recaudo.events import (
    AgentTask,
    AgentTaskPriority,
    AgentTaskReason,
    ChannelResponse,
    ConversationTurn,
    DebtEvent,
    DebtorView,
)
from recaudo.orchestration.engine import Orchestrator, Outputs
from recaudo.orchestration.state import OrchestrationState
from recaudo.orchestration.templates import language_of
from recaudo.understanding.types import Understanding
from recaudo.understanding.understand import understand
from recaudo.view import DebtorState, snapshot
from recaudo.view.timebase import from_ms

SOURCE: Final = "recaudo.conversation"
TASK_NAMESPACE: Final = uuid.UUID("5b0f3e2a-8c71-4d69-b1e4-7a2c9d0f6e18")
#: the zone and currency a message is read in when the view knows neither
DEFAULT_ZONE: Final = "UTC"
DEFAULT_CURRENCY: Final = "USD"

TASK_REASONS: Final[dict[HandoffReason, AgentTaskReason]] = {
    "ask_human": "ask_human",
    "hardship": "hardship",
    "dispute": "dispute",
    "abusive": "abusive",
    "not_understood": "unknown",
    "already_paid": "already_paid",
}
TASK_PRIORITIES: Final[dict[HandoffReason, AgentTaskPriority]] = {
    "hardship": "HIGH",
    "dispute": "HIGH",
    "restricted": "HIGH",
    "abusive": "LOW",
}


@dataclass(slots=True)
class Step:
    """What one inbound message did."""

    state: ConversationState
    understanding: Understanding
    #: the answer's dispatch and decision (empty when nothing is sent)
    outputs: Outputs = field(default_factory=Outputs)
    #: debt events and channel responses the message caused, to publish
    events: tuple[DebtEvent | ChannelResponse, ...] = ()
    task: AgentTask | None = None


def converse(
    orchestrator: Orchestrator,
    orch: OrchestrationState,
    view_state: DebtorState,
    conversation: ConversationState | None,
    message: ChannelResponse,
    now: datetime,
) -> Step:
    """Understand and answer one ``REPLIED`` message (``orch`` is updated in
    place with the answer's contact)."""
    view = snapshot(view_state, view_state.debtor_id)
    account = negotiated_account(view, conversation)
    profile_language = language_of(view.language)
    understood = understand(
        message.text or "",
        language=None,
        time_zone=view.time_zone or DEFAULT_ZONE,
        currency=account.currency if account is not None else DEFAULT_CURRENCY,
        now=now,
        fallback_language=profile_language,  # type: ignore[arg-type]
    )
    turn = respond(
        conversation,
        understood,
        view,
        orchestrator.strategy,
        now,
        message.channel,
        text=message.text,
        message_id=str(message.event_id),
        dispatch_id=message.dispatch_id,
    )
    step = Step(turn.state, understood, events=turn.events)
    if turn.reply is not None:
        step.outputs = orchestrator.answer(
            orch,
            view_state,
            now,
            turn.reply,
            message,
            turn.state.account_id,
            answer_expires_at(turn.state, turn.reply.channel),
        )
    if turn.handoff is not None:
        step.task = agent_task(view, turn.handoff, message, now)
    return step


def agent_task(
    view: DebtorView, handoff: Handoff, message: ChannelResponse, now: datetime
) -> AgentTask:
    """The task a handoff opens: its id from the debtor and the message, so a
    replayed handoff is the same task."""
    task_id = uuid.uuid5(TASK_NAMESPACE, f"{view.debtor_id}/{message.event_id}")
    return AgentTask(
        event_id=task_id,
        occurred_at=now,
        source=SOURCE,
        debtor_id=view.debtor_id,
        task_id=f"task-{task_id.hex[:20]}",
        account_id=handoff.account_id,
        reason=TASK_REASONS.get(handoff.reason, "other"),
        status="OPEN",
        priority=TASK_PRIORITIES.get(handoff.reason, "NORMAL"),
        transcript=[_turn(t) for t in handoff.transcript],
        view_json=view.model_dump_json(),
        suggested_action=handoff.suggested_action,
        created_at=now,
    )


def _turn(turn: TurnRecord) -> ConversationTurn:
    confidence = None if turn.confidence is None else round(turn.confidence * 1000)
    return ConversationTurn(
        direction="INBOUND" if turn.direction == "in" else "OUTBOUND",
        channel=turn.channel,
        text=turn.text if turn.text is not None else ", ".join(turn.caused) or None,
        intent=turn.intent,
        confidence_permille=confidence,
        at=from_ms(turn.at),
    )


def task_closed(
    conversation: ConversationState | None, task: AgentTask
) -> ConversationState | None:
    """A person closed the debtor's task: automatic replies resume (None
    when there is nothing to change)."""
    if conversation is None or task.status != "CLOSED" or conversation.handoff_reason is None:
        return None
    return close_handoff(conversation)
