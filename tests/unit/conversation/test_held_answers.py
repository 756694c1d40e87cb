"""Answers the allowed hours refuse are held, not dropped: deferred to the
next allowed moment in the debtor's time zone, sent once then by the timer
(:func:`recaudo.conversation.step.wake`), dropped only when something newer
made them moot."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import ChannelResponse, DebtEvent, DispatchCommand
from recaudo.conversation.dialogue import Reply
from recaudo.conversation.state import ConversationState
from recaudo.conversation.step import (
    Step,
    conversation_due,
    converse_understood,
    send,
    wake,
)
from recaudo.orchestration.engine import Outputs, answer_key
from recaudo.orchestration.state import OrchestrationState
from recaudo.view import DebtorState, apply
from recaudo.view.timebase import from_ms, to_ms
from tests.unit.conversation.fixtures import u
from tests.unit.orchestration.test_answers import (
    ORCHESTRATOR,
    START,
    debtor,
    near_an_edge,
    within_hours,
)

# Wednesday 18 November 2026, 20:30 in Bogotá: after Ley 2300's 19:00 close.
EVENING = datetime(2026, 11, 19, 1, 30, tzinfo=UTC)
# The next window: Thursday 07:00 in Bogotá.
NEXT_MORNING = datetime(2026, 11, 19, 12, tzinfo=UTC)
BALANCE = Reply(
    "balance",
    {"amount": "COP 20,000.00", "balance": "COP 400,000.00", "days_past_due": "3"},
    "sms",
    "es",
)


def message(at: datetime, text: str = "cuanto debo", channel: str = "sms") -> ChannelResponse:
    return ChannelResponse(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"reply/{at.isoformat()}/{text}"),
        occurred_at=at,
        source="twilio",
        debtor_id="D-1",
        channel=channel,
        status="REPLIED",
        provider="twilio",
        text=text,
    )


class Debtor:
    """One debtor as the worker keeps it: view, orchestration and conversation state."""

    def __init__(self, at: datetime) -> None:
        self.view: DebtorState = debtor(at)
        self.orch = OrchestrationState()
        self.conversation: ConversationState | None = None
        self.dispatches: list[DispatchCommand] = []
        self.outputs: list[Outputs] = []

    def take(self, outputs: Outputs) -> None:
        self.outputs.append(outputs)
        self.dispatches.extend(outputs.dispatches)

    def says(self, at: datetime, understood_intent: str, text: str) -> Step:
        step = converse_understood(
            ORCHESTRATOR,
            self.orch,
            self.view,
            self.conversation,
            message(at, text),
            u(understood_intent),  # type: ignore[arg-type]
            at,
        )
        self.conversation = step.state
        for event in step.events:
            self.view = apply(self.view, event).state
        self.take(step.outputs)
        return step

    def wakes(self, at: datetime) -> bool:
        woke = wake(ORCHESTRATOR, self.orch, self.view, self.conversation, at)
        if woke is None:
            return False
        outputs, self.conversation = woke
        self.take(outputs)
        return True

    def outcomes(self) -> list[str]:
        return [d.outcome for o in self.outputs for d in o.decisions]


def test_an_answer_outside_the_hours_is_held_and_sent_once_at_the_next_window() -> None:
    d = Debtor(EVENING)
    d.says(EVENING, "ask_balance", "cuanto debo")
    assert d.dispatches == [] and d.outcomes() == ["DEFERRED"]
    assert d.conversation is not None and d.conversation.held is not None
    assert conversation_due(d.conversation) == to_ms(NEXT_MORNING)
    # Woken early (another timer of the debtor's): nothing yet.
    assert not d.wakes(NEXT_MORNING - timedelta(hours=2))
    assert d.wakes(NEXT_MORNING)
    (sent,) = d.dispatches
    assert sent.template == "conversation.balance" and sent.channel == "sms"
    assert sent.not_before == NEXT_MORNING
    assert d.conversation.held is None
    # A wake-up delivered twice sends nothing more.
    assert not d.wakes(NEXT_MORNING + timedelta(minutes=1))
    assert len(d.dispatches) == 1
    # The same id as an answer sent at once would have had.
    direct = ORCHESTRATOR.send_answer(
        OrchestrationState(),
        debtor(NEXT_MORNING),
        NEXT_MORNING,
        BALANCE,
        answer_key(str(message(EVENING).event_id)),
        None,
        None,
        "ACC-1",
        None,
    )
    assert direct.dispatches[0].dispatch_id == sent.dispatch_id


def test_a_newer_message_answered_meanwhile_makes_the_held_answer_moot() -> None:
    d = Debtor(EVENING)
    d.says(EVENING, "ask_balance", "cuanto debo")
    d.says(EVENING + timedelta(minutes=5), "pay_now", "como pago")
    assert d.conversation is not None and d.conversation.held is not None
    assert d.conversation.held.template == "pay_now"
    superseded = [
        h.reason_code
        for o in d.outputs
        for dec in o.decisions
        if dec.outcome == "SUPPRESSED"
        for h in dec.rules_fired
    ]
    assert superseded == ["SUPERSEDED"]
    assert d.wakes(NEXT_MORNING)
    assert [c.template for c in d.dispatches] == ["conversation.pay_now"]


def test_a_person_taking_over_makes_the_held_answer_moot() -> None:
    d = Debtor(EVENING)
    d.says(EVENING, "ask_balance", "cuanto debo")
    d.says(EVENING + timedelta(minutes=5), "ask_human", "quiero un asesor")
    assert d.conversation is not None and d.conversation.held is not None
    # The handoff notice is held in its place; the balance is never sent.
    assert d.conversation.held.template == "handoff"
    assert d.wakes(NEXT_MORNING)
    assert [c.template for c in d.dispatches] == ["conversation.handoff"]


def test_an_opt_out_on_that_channel_meanwhile_drops_the_held_answer() -> None:
    d = Debtor(EVENING)
    d.says(EVENING, "ask_balance", "cuanto debo")
    carrier_stop = ChannelResponse(
        occurred_at=EVENING + timedelta(minutes=3),
        source="twilio",
        debtor_id="D-1",
        channel="sms",
        status="OPTED_OUT",
        provider="twilio",
    )
    d.view = apply(d.view, carrier_stop).state
    assert d.wakes(NEXT_MORNING)
    assert d.dispatches == []
    assert d.outcomes()[-1] == "SUPPRESSED"
    assert d.conversation is not None and d.conversation.held is None
    assert not d.wakes(NEXT_MORNING + timedelta(hours=1))


def test_a_payment_that_ends_the_arrears_drops_a_held_offer() -> None:
    d = Debtor(EVENING)
    d.view = apply(
        d.view,
        DebtEvent(
            occurred_at=EVENING - timedelta(days=1),
            source="core-banking",
            debtor_id="D-1",
            account_id="ACC-1",
            type="PAYMENT_MISSED",
            payload={
                "instalment_number": 3,
                "amount_minor": 2_000_000,
                "currency": "COP",
                "due_date": (EVENING - timedelta(days=3)).date(),
            },
        ),
    ).state
    d.says(EVENING, "ask_plan", "quiero pagar en cuotas")
    assert d.conversation is not None and d.conversation.held is not None
    paid = DebtEvent(
        occurred_at=EVENING + timedelta(hours=2),
        source="core-banking",
        debtor_id="D-1",
        account_id="ACC-1",
        type="PAYMENT_RECEIVED",
        payload={"payment_id": "P-1", "amount_minor": 2_000_000, "currency": "COP"},
    )
    d.view = apply(d.view, paid).state
    assert d.wakes(NEXT_MORNING)
    assert d.dispatches == []
    reasons = [h.reason_code for dec in d.outputs[-1].decisions for h in dec.rules_fired]
    assert reasons == ["DEBT_PAID"]


def test_a_window_that_opens_after_the_answers_deadline_suppresses_it() -> None:
    d = Debtor(EVENING)
    # A WhatsApp answer whose 24-hour service window closes before the morning.
    late = EVENING - timedelta(hours=23)
    state = ConversationState(debtor_id="D-1", account_id="ACC-1", last_inbound_at=to_ms(late))
    reply = Reply("thanks", {}, "whatsapp", "es")
    outputs, held = send(ORCHESTRATOR, d.orch, d.view, state, reply, "answer:x", EVENING)
    assert outputs.dispatches == [] and held.held is None
    (decision,) = outputs.decisions
    assert decision.outcome == "SUPPRESSED"
    assert "ANSWER_EXPIRED" in [h.reason_code for h in decision.rules_fired]


@settings(max_examples=120, deadline=None)
@given(
    minute=st.integers(0, 10 * 24 * 60 - 1),
    wakes=st.lists(st.integers(0, 4 * 24 * 60), max_size=6),
    channel=st.sampled_from(["sms", "whatsapp"]),
)
def test_an_answer_is_sent_at_most_once_and_never_outside_the_hours(
    minute: int, wakes: list[int], channel: str
) -> None:
    said = START + timedelta(minutes=minute)
    if near_an_edge(said):
        return
    d = Debtor(said)
    d.conversation = None
    step = converse_understood(
        ORCHESTRATOR, d.orch, d.view, None, message(said, channel=channel), u("ask_balance"), said
    )
    d.conversation = step.state
    d.take(step.outputs)
    # The timer fires at the conversation's due time; other timers of the
    # debtor's wake it at arbitrary moments, in order, some twice.
    moments = sorted({said + timedelta(minutes=m) for m in wakes})
    for _ in range(4):
        due = conversation_due(d.conversation)
        if due is not None:
            moments.append(from_ms(due))
        for at in sorted(moments):
            if at >= said:
                d.wakes(at)
        moments = []
    assert len(d.dispatches) <= 1
    for sent in d.dispatches:
        assert within_hours(sent.occurred_at), sent.occurred_at
        assert sent.expires_at > sent.occurred_at
    service_window_end = said + timedelta(hours=24)
    if not d.dispatches:
        # Only WhatsApp's service window can run out before the next window.
        assert channel == "whatsapp"
        assert d.outcomes()[-1] == "SUPPRESSED"
    elif channel == "whatsapp":
        assert d.dispatches[0].expires_at <= service_window_end
    assert d.conversation is not None and d.conversation.held is None
