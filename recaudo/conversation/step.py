"""One debtor's message through the conversation, as the stream worker runs
it: understood in the debtor's language, zone and currency at the injected
``now``, answered by the dialogue, the answer dispatched through the
orchestrator's policy (:meth:`~recaudo.orchestration.Orchestrator.answer`),
and a handoff turned into an agent task. Pure: no Kafka, no clock; the
worker keeps the state and produces what :class:`Step` holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, cast

from recaudo.contracts.records import (
    AgentTask,
    AgentTaskPriority,
    AgentTaskReason,
    Channel,
    ChannelResponse,
    ConversationTurn,
    DebtEvent,
    DebtorView,
)
from recaudo.conversation.dialogue import (
    Handoff,
    HandoffReason,
    Reply,
    answer_expires_at,
    answer_moot,
    close_handoff,
    negotiated_account,
    on_silence,
    respond,
    silence_due,
)
from recaudo.conversation.state import ConversationState, HeldAnswer, TurnRecord
from recaudo.orchestration.engine import Orchestrator, Outputs, answer_key
from recaudo.orchestration.state import OrchestrationState
from recaudo.orchestration.templates import language_of
from recaudo.understanding.types import Understanding
from recaudo.understanding.understand import understand
from recaudo.view import DebtorState, snapshot
from recaudo.view.timebase import from_ms, to_ms

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
    return converse_understood(
        orchestrator, orch, view_state, conversation, message, understood, now
    )


def converse_understood(
    orchestrator: Orchestrator,
    orch: OrchestrationState,
    view_state: DebtorState,
    conversation: ConversationState | None,
    message: ChannelResponse,
    understood: Understanding,
    now: datetime,
) -> Step:
    """:func:`converse` once the message is understood."""
    view = snapshot(view_state, view_state.debtor_id)
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
    held = turn.state.held
    if held is not None and (turn.reply is not None or turn.handoff is not None):
        # A newer message answered (or a person called in): the held answer is moot.
        step.outputs = _drop(orchestrator, orch, view_state, held, now, "SUPERSEDED")
        step.state = replace(step.state, held=None)
    if turn.reply is not None:
        outputs, step.state = send(
            orchestrator,
            orch,
            view_state,
            step.state,
            turn.reply,
            answer_key(str(message.event_id)),
            now,
            message_id=str(message.event_id),
            answers_dispatch=message.dispatch_id,
        )
        _merge(step.outputs, outputs)
    if turn.handoff is not None:
        step.task = agent_task(view, turn.handoff, message, now)
    return step


def send(
    orchestrator: Orchestrator,
    orch: OrchestrationState,
    view_state: DebtorState,
    state: ConversationState,
    reply: Reply,
    key: str,
    now: datetime,
    *,
    message_id: str | None = None,
    answers_dispatch: str | None = None,
    reminder: bool = False,
) -> tuple[Outputs, ConversationState]:
    """One answer through the orchestrator's policy: dispatched now, or held
    in the state (:class:`HeldAnswer`) when the hours defer it, for
    :func:`wake` to send at the next allowed moment."""
    expires = answer_expires_at(state, reply.channel)
    outputs = orchestrator.send_answer(
        orch,
        view_state,
        now,
        reply,
        key,
        message_id,
        answers_dispatch,
        state.account_id,
        expires,
        caps=reminder,
    )
    deferred = next((d for d in outputs.decisions if d.outcome == "DEFERRED"), None)
    if deferred is None or deferred.not_before is None:
        return outputs, replace(state, held=None)
    held = HeldAnswer(
        key=key,
        template=reply.template,
        channel=reply.channel,
        language=reply.language,
        not_before=to_ms(deferred.not_before),
        variables=dict(reply.variables),
        expires_at=expires,
        account_id=state.account_id,
        message_id=message_id,
        answers_dispatch=answers_dispatch,
        reminder=reminder,
    )
    return outputs, replace(state, held=held)


def conversation_due(state: ConversationState | None) -> int | None:
    """When the worker's timer must wake the debtor for the conversation
    (UTC ms): a held answer's next allowed moment, silence's next act."""
    if state is None:
        return None
    dues = [d for d in (silence_due(state),) if d is not None]
    if state.held is not None:
        dues.append(state.held.not_before)
    return min(dues) if dues else None


def wake(
    orchestrator: Orchestrator,
    orch: OrchestrationState,
    view_state: DebtorState,
    conversation: ConversationState | None,
    now: datetime,
) -> tuple[Outputs, ConversationState] | None:
    """The timer woke the debtor: a held answer whose moment came is sent
    (or dropped, moot), then silence acts (:func:`on_silence`). None when
    the conversation has nothing due (``orch`` is updated in place)."""
    due = conversation_due(conversation)
    if conversation is None or due is None or due > to_ms(now):
        return None
    state, out = conversation, Outputs()
    view = snapshot(view_state, view_state.debtor_id)
    held = state.held
    if held is not None and held.not_before <= to_ms(now):
        reason = answer_moot(state, held, view)
        if reason is not None:
            out = _drop(orchestrator, orch, view_state, held, now, reason)
            state = replace(state, held=None)
        else:
            reply = Reply(
                held.template,
                held.variables,
                cast(Channel, held.channel),
                held.language,
            )
            state = replace(state, held=None)
            out, state = send(
                orchestrator,
                orch,
                view_state,
                state,
                reply,
                held.key,
                now,
                message_id=held.message_id,
                answers_dispatch=held.answers_dispatch,
                reminder=held.reminder,
            )
    turn = on_silence(state, view, orchestrator.strategy, now)
    state = turn.state
    if turn.reply is not None:
        # From the debtor's last message: the same reminder on a redelivered wake-up.
        key = f"remind:{state.seen[-1] if state.seen else state.conversation_id}"
        reminded, state = send(
            orchestrator, orch, view_state, state, turn.reply, key, now, reminder=True
        )
        _merge(out, reminded)
    return out, state


def _drop(
    orchestrator: Orchestrator,
    orch: OrchestrationState,
    view_state: DebtorState,
    held: HeldAnswer,
    now: datetime,
    reason: str,
) -> Outputs:
    return orchestrator.drop_answer(
        orch, view_state, now, held.key, held.message_id, held.channel, held.account_id, reason
    )


def _merge(into: Outputs, more: Outputs) -> None:
    into.decisions.extend(more.decisions)
    into.dispatches.extend(more.dispatches)


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


#: the reply template of a person's answer (its one variable: ``text``)
AGENT_REPLY: Final = "agent_reply"


def agent_answer(
    orchestrator: Orchestrator,
    orch: OrchestrationState,
    view_state: DebtorState,
    conversation: ConversationState | None,
    task: AgentTask,
    now: datetime,
) -> tuple[Outputs, ConversationState | None]:
    """A person's answer (``task.agent_reply``) through the policy like any
    answer (:func:`send`): dispatched now, or held in the conversation for
    the next allowed moment when the hours defer it; its dispatch id from the
    reply's id, so a redelivered reply is sent once. The conversation is
    returned as it stands after (None when there was none and nothing is held)."""
    reply = task.agent_reply
    if reply is None:
        return Outputs(), conversation
    view = snapshot(view_state, view_state.debtor_id)
    state = conversation or ConversationState(task.debtor_id, account_id=task.account_id)
    outgoing = Reply(
        template=AGENT_REPLY,
        variables={"text": reply.text},
        channel=reply.channel,
        language=language_of(view.language),
    )
    outputs, after = send(
        orchestrator,
        orch,
        view_state,
        state,
        outgoing,
        answer_key(str(reply.reply_id)),
        now,
        message_id=str(reply.reply_id),
    )
    if conversation is None and after.held is None:
        return outputs, None
    return outputs, after
