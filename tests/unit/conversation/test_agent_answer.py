"""A person's reply from the agent desk goes out through the orchestrator's
answer path: the same hours and suppressions as an automatic answer, on the
channel the debtor wrote from, once per reply id; one the hours defer is
held and sent at the next allowed moment, even while the task is open."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import AgentReply, AgentTask, ChannelResponse
from recaudo.conversation.state import ConversationState
from recaudo.conversation.step import agent_answer, conversation_due, wake
from recaudo.orchestration.state import OrchestrationState
from recaudo.view import apply
from recaudo.view.timebase import from_ms
from tests.unit.orchestration.test_answers import (
    ORCHESTRATOR,
    START,
    debtor,
    near_an_edge,
    within_hours,
)

TEXT = "Hola, soy Ana del banco. Podemos revisar su caso mañana."
#: Wednesday 07:00 in Bogotá: inside Ley 2300's hours
OPEN_HOURS = START + timedelta(days=1, hours=7)
#: Wednesday 21:00 in Bogotá: after them
AFTER_HOURS = START + timedelta(days=1, hours=21)
HANDED_OFF = ConversationState("D-1", account_id="ACC-1", status="handed_off")


def task_with_reply(
    now: datetime, channel: str = "sms", reply_id: uuid.UUID | None = None
) -> AgentTask:
    return AgentTask.model_validate(
        {
            "occurred_at": now,
            "source": "recaudo.desk",
            "debtor_id": "D-1",
            "task_id": "task-1",
            "account_id": "ACC-1",
            "reason": "hardship",
            "status": "OPEN",
            "priority": "HIGH",
            "created_at": now,
            "agent_reply": AgentReply(
                reply_id=reply_id or uuid.uuid5(uuid.NAMESPACE_URL, "reply-1"),
                channel=channel,
                text=TEXT,
                agent="ana",
                at=now,
            ),
        }
    )


@settings(max_examples=100, deadline=None)
@given(minute=st.integers(0, 12 * 24 * 60 - 1))
def test_hours_apply_as_to_any_answer(minute: int) -> None:
    now = START + timedelta(minutes=minute)
    if near_an_edge(now):
        return
    out, state = agent_answer(
        ORCHESTRATOR, OrchestrationState(), debtor(now), HANDED_OFF, task_with_reply(now), now
    )
    assert len(out.decisions) == 1
    outcome = out.decisions[0].outcome
    assert outcome == ("DISPATCHED" if within_hours(now) else "DEFERRED")
    assert state is not None and (state.held is None) == within_hours(now)
    if outcome == "DISPATCHED":
        (command,) = out.dispatches
        assert command.channel == "sms" and command.address == "+573001234567"
        assert command.template == "conversation.agent_reply" and command.locale == "es"
        assert command.body is not None and command.body.startswith(TEXT)


def test_a_reply_the_hours_defer_is_sent_at_the_next_window_though_the_task_is_open() -> None:
    orch = OrchestrationState()
    out, state = agent_answer(
        ORCHESTRATOR,
        orch,
        debtor(AFTER_HOURS),
        HANDED_OFF,
        task_with_reply(AFTER_HOURS),
        AFTER_HOURS,
    )
    assert [d.outcome for d in out.decisions] == ["DEFERRED"] and not out.dispatches
    assert state is not None and state.held is not None
    due = conversation_due(state)
    assert due is not None and due == state.held.not_before
    at = from_ms(due)
    woke = wake(ORCHESTRATOR, orch, debtor(at), state, at)
    assert woke is not None
    sent, after = woke
    (command,) = sent.dispatches
    assert command.body is not None and command.body.startswith(TEXT)
    assert after.held is None and after.status == "handed_off"
    # The same reply read again (a redelivery) sends nothing more.
    again, _ = agent_answer(ORCHESTRATOR, orch, debtor(at), after, task_with_reply(AFTER_HOURS), at)
    assert not again.dispatches


def test_one_reply_is_sent_once_with_an_id_of_its_own() -> None:
    now = OPEN_HOURS
    assert within_hours(now)
    orch = OrchestrationState()
    first, _ = agent_answer(ORCHESTRATOR, orch, debtor(now), None, task_with_reply(now), now)
    again, _ = agent_answer(ORCHESTRATOR, orch, debtor(now), None, task_with_reply(now), now)
    assert len(first.dispatches) == 1 and not again
    elsewhere, _ = agent_answer(
        ORCHESTRATOR, OrchestrationState(), debtor(now), None, task_with_reply(now), now
    )
    assert elsewhere.dispatches[0].dispatch_id == first.dispatches[0].dispatch_id
    other, _ = agent_answer(
        ORCHESTRATOR,
        orch,
        debtor(now),
        None,
        task_with_reply(now, reply_id=uuid.uuid5(uuid.NAMESPACE_URL, "reply-2")),
        now,
    )
    assert other.dispatches[0].dispatch_id != first.dispatches[0].dispatch_id


def test_a_channel_the_debtor_opted_out_of_is_not_used() -> None:
    now = OPEN_HOURS
    state = apply(
        debtor(now),
        ChannelResponse(
            occurred_at=now - timedelta(hours=1),
            source="twilio",
            debtor_id="D-1",
            channel="sms",
            status="OPTED_OUT",
            provider="twilio",
        ),
    ).state
    out, conversation = agent_answer(
        ORCHESTRATOR, OrchestrationState(), state, None, task_with_reply(now), now
    )
    assert not out.dispatches and conversation is None
    assert [d.outcome for d in out.decisions] == ["SUPPRESSED"]


def test_a_task_without_a_reply_sends_nothing_and_changes_nothing() -> None:
    task = task_with_reply(OPEN_HOURS).model_copy(update={"agent_reply": None})
    out, state = agent_answer(
        ORCHESTRATOR, OrchestrationState(), debtor(OPEN_HOURS), HANDED_OFF, task, OPEN_HOURS
    )
    assert not out and state is HANDED_OFF
