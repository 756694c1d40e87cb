"""A person's reply from the agent desk goes out through the orchestrator's
answer path: the same hours and suppressions as an automatic answer, on the
channel the debtor wrote from, once per reply id."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.conversation.step import agent_answer
from recaudo.events import AgentReply, AgentTask, ChannelResponse
from recaudo.orchestration.state import OrchestrationState
from recaudo.view import apply
from tests.unit.orchestration.test_answers import (
    ORCHESTRATOR,
    START,
    debtor,
    near_an_edge,
    within_hours,
)

TEXT = "Hola, soy Ana del banco. Podemos revisar su caso mañana."


def task_with_reply(
    now: object, channel: str = "sms", reply_id: uuid.UUID | None = None
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
    out = agent_answer(ORCHESTRATOR, OrchestrationState(), debtor(now), task_with_reply(now), now)
    assert len(out.decisions) == 1
    dispatched = out.decisions[0].outcome == "DISPATCHED"
    assert dispatched == within_hours(now), out.decisions[0].rules_fired
    if dispatched:
        (command,) = out.dispatches
        assert command.channel == "sms" and command.address == "+573001234567"
        assert command.template == "conversation.agent_reply" and command.locale == "es"
        assert command.body is not None and command.body.startswith(TEXT)


def test_one_reply_is_sent_once_with_an_id_of_its_own() -> None:
    now = START + timedelta(days=1, hours=12)  # Wednesday 07:00 in Bogotá
    assert within_hours(now)
    orch = OrchestrationState()
    first = agent_answer(ORCHESTRATOR, orch, debtor(now), task_with_reply(now), now)
    again = agent_answer(ORCHESTRATOR, orch, debtor(now), task_with_reply(now), now)
    assert len(first.dispatches) == 1 and not again
    elsewhere = agent_answer(
        ORCHESTRATOR, OrchestrationState(), debtor(now), task_with_reply(now), now
    )
    assert elsewhere.dispatches[0].dispatch_id == first.dispatches[0].dispatch_id
    other = agent_answer(
        ORCHESTRATOR,
        orch,
        debtor(now),
        task_with_reply(now, reply_id=uuid.uuid5(uuid.NAMESPACE_URL, "reply-2")),
        now,
    )
    assert other.dispatches[0].dispatch_id != first.dispatches[0].dispatch_id


def test_a_channel_the_debtor_opted_out_of_is_not_used() -> None:
    now = START + timedelta(days=1, hours=12)
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
    out = agent_answer(ORCHESTRATOR, OrchestrationState(), state, task_with_reply(now), now)
    assert not out.dispatches
    assert [d.outcome for d in out.decisions] == ["SUPPRESSED"]


def test_a_task_without_a_reply_sends_nothing() -> None:
    now = START + timedelta(days=1, hours=12)
    task = task_with_reply(now).model_copy(update={"agent_reply": None})
    assert not agent_answer(ORCHESTRATOR, OrchestrationState(), debtor(now), task, now)
