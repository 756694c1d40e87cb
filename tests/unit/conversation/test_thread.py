"""The thread `recaudo conversation show` prints: each message once, with what
it caused found by the worker's deterministic ids, and the answer sent."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from recaudo.contracts.records import (
    AgentTask,
    ChannelResponse,
    DebtEvent,
    DispatchCommand,
    Envelope,
)
from recaudo.conversation.dialogue import CONVERSATION_NAMESPACE
from recaudo.conversation.step import TASK_NAMESPACE
from recaudo.conversation.thread import render, thread
from recaudo.orchestration.ids import dispatch_id

AT = datetime(2026, 11, 18, 16, tzinfo=UTC)
MESSAGE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def message(text: str, event_id: uuid.UUID, at: datetime) -> ChannelResponse:
    return ChannelResponse(
        event_id=event_id,
        occurred_at=at,
        source="twilio",
        debtor_id="D-1",
        channel="sms",
        status="REPLIED",
        provider="twilio",
        text=text,
    )


def records() -> list[Envelope]:
    key = str(MESSAGE_ID)
    promise = DebtEvent(
        event_id=uuid.uuid5(CONVERSATION_NAMESPACE, f"D-1/{key}/event/0"),
        occurred_at=AT,
        source="recaudo.conversation",
        debtor_id="D-1",
        account_id="ACC-1",
        type="PROMISE_TO_PAY",
        payload={
            "promise_id": "p-1",
            "amount_minor": 2_000_000,
            "currency": "COP",
            "promised_date": date(2026, 11, 20),
        },
    )
    answer = DispatchCommand(
        occurred_at=AT,
        source="recaudo.orchestrator",
        debtor_id="D-1",
        dispatch_id=dispatch_id("D-1", f"answer:{key}", 0, "sms"),
        account_id="ACC-1",
        channel="sms",
        address="+573001234567",
        template="conversation.promise_confirmed",
        locale="es",
        body="Listo",
        not_before=AT,
        expires_at=AT + timedelta(hours=1),
        trigger="reply_received",
        step=0,
        strategy="default",
        arm="champion",
    )
    other_id = uuid.UUID("00000000-0000-4000-8000-000000000002")
    task = AgentTask(
        event_id=uuid.uuid5(TASK_NAMESPACE, f"D-1/{other_id}"),
        occurred_at=AT,
        source="recaudo.conversation",
        debtor_id="D-1",
        task_id="task-1",
        reason="ask_human",
        status="OPEN",
        priority="NORMAL",
        created_at=AT,
    )
    first = message("pago el viernes", MESSAGE_ID, AT)
    later = message("quiero hablar con una persona", other_id, AT + timedelta(minutes=5))
    return [later, first, promise, answer, first, task]


def test_each_message_once_with_what_it_caused_and_its_answer() -> None:
    intents = {"pago el viernes": "promise_to_pay", "quiero hablar con una persona": "ask_human"}
    shown = thread("D-1", records(), "es", lambda text, _: (intents[text], 0.9))
    assert [(m.text, m.intent) for m in shown] == [
        ("pago el viernes", "promise_to_pay"),
        ("quiero hablar con una persona", "ask_human"),
    ]
    assert shown[0].caused == [
        "PROMISE_TO_PAY on ACC-1 (amount_minor=2000000, promised_date=2026-11-20)"
    ]
    assert shown[0].answer is not None and shown[0].answer.body == "Listo"
    assert shown[1].caused == ["agent task task-1 (ask_human, OPEN)"]
    assert shown[1].answer is None
    text = render(shown)
    assert "answered on sms (promise_confirmed): 'Listo'" in text
    assert "no automatic answer" in text


def test_another_debtors_records_are_left_out() -> None:
    assert thread("D-2", records(), "es", lambda text, _: ("unknown", 0.0)) == []
