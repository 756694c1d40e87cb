"""Conversation KPIs: messages read and understood, conversations resolved
without a person or handed off, promises and plans agreed in them, and the
time to each message's first answer; each once, whatever is redelivered."""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import AgentTask, ChannelResponse, ContactDecision, Envelope
from recaudo.kpis import Counters, DebtorKpiState, observe
from recaudo.kpis.conversations import (
    CONVERSATION_SOURCE,
    LATENCY_BOUNDS_MS,
    OVERFLOW,
    format_duration,
    latency_bucket,
    latency_percentile,
)
from tests.fixtures import T0, debt_event

#: The intent each scripted text stands for, and whether it is confident.
INTENTS = {
    "pago el viernes": ("promise_to_pay", True),
    "quiero cuotas": ("ask_plan", True),
    "gracias": ("thanks_ack", True),
    "quiero hablar con alguien": ("ask_human", True),
    "asdf": ("unknown", False),
}


def read(text: str) -> tuple[str, bool]:
    return INTENTS[text]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def message(text: str, minute: float, dispatch_id: str | None = "d1", **kw: Any) -> ChannelResponse:
    return ChannelResponse(
        event_id=kw.pop("event_id", uuid.uuid4()),
        occurred_at=at(minute),
        source="webhooks",
        debtor_id="D-1",
        dispatch_id=dispatch_id,
        channel=kw.pop("channel", "sms"),
        status="REPLIED",
        provider="p",
        text=text,
    )


def outreach(minute: float = 0, dispatch_id: str = "d1") -> ContactDecision:
    return ContactDecision(
        occurred_at=at(minute),
        source="orchestrator",
        debtor_id="D-1",
        trigger="payment_missed",
        step=0,
        outcome="DISPATCHED",
        channel="sms",
        dispatch_id=dispatch_id,
        strategy="s",
        arm="A",
    )


def answer(to: ChannelResponse, minute: float) -> ContactDecision:
    return ContactDecision(
        occurred_at=at(minute),
        source="orchestrator",
        debtor_id="D-1",
        trigger="reply_received",
        trigger_event_id=to.event_id,
        step=0,
        outcome="DISPATCHED",
        channel=to.channel,
        dispatch_id=f"answer-{to.event_id}",
        strategy="s",
        arm="champion",
    )


def promise(minute: float, source: str = CONVERSATION_SOURCE) -> Any:
    return debt_event(
        type="PROMISE_TO_PAY",
        occurred_at=at(minute),
        source=source,
        payload={
            "promise_id": f"P-{minute}",
            "amount_minor": 5000,
            "currency": "COP",
            "promised_date": "2026-11-06",
        },
    )


def plan(minute: float, source: str = CONVERSATION_SOURCE) -> Any:
    return debt_event(
        type="PAYMENT_PLAN_AGREED",
        occurred_at=at(minute),
        source=source,
        payload={
            "plan_id": f"PL-{minute}",
            "instalment_count": 2,
            "instalment_minor": 2500,
            "currency": "COP",
            "first_due_date": date(2026, 11, 9).isoformat(),
            "frequency": "WEEKLY",
            "total_minor": 5000,
            "channel": "sms",
        },
    )


def payment(minute: float) -> Any:
    return debt_event(
        type="PAYMENT_RECEIVED",
        occurred_at=at(minute),
        payload={"payment_id": f"PAY-{minute}", "amount_minor": 5000, "currency": "COP"},
    )


def opted_out(minute: float) -> ChannelResponse:
    return ChannelResponse(
        occurred_at=at(minute),
        source=CONVERSATION_SOURCE,
        debtor_id="D-1",
        channel="sms",
        status="OPTED_OUT",
        provider=CONVERSATION_SOURCE,
    )


def task(minute: float, reason: str = "ask_human", status: str = "OPEN") -> AgentTask:
    when = at(minute)
    return AgentTask.model_validate(
        {
            "occurred_at": when,
            "source": CONVERSATION_SOURCE,
            "debtor_id": "D-1",
            "task_id": f"task-{minute}",
            "reason": reason,
            "status": status,
            "priority": "NORMAL",
            "created_at": when,
            "closed_at": when if status == "CLOSED" else None,
        }
    )


def total(*events: Envelope, state: DebtorKpiState | None = None, reader: Any = read) -> Counters:
    state = state if state is not None else DebtorKpiState()
    out = Counters()
    for event in events:
        for a in observe(state, event, reader):
            out.add(a.counters)
    return out


def test_a_promise_agreed_in_a_conversation_resolves_it_without_a_person() -> None:
    asked = message("pago el viernes", 30)
    got = total(outreach(), asked, answer(asked, 30.2), promise(30.2))
    assert (got.messages_read, got.messages_understood) == (1, 1)
    assert (got.conversations, got.conversations_resolved) == (1, 1)
    assert (got.conversation_promises, got.promises) == (1, 1)
    assert got.answer_latency_ms == {"30000": 1}  # 12 s: within the 30 s bucket
    assert got.handoffs == 0


def test_a_handoff_is_counted_by_reason_and_its_conversation_is_not_resolved() -> None:
    asked = message("quiero hablar con alguien", 30)
    got = total(outreach(), asked, task(30.1), payment(60), message("gracias", 70))
    assert got.handoffs == 1 and got.handoff_reasons == {"ask_human": 1}
    # The payment comes after the handoff; the thank-you opens and ends a new one.
    assert (got.conversations, got.conversations_resolved) == (2, 1)


def test_an_agent_task_closing_is_not_a_second_handoff() -> None:
    got = total(message("quiero hablar con alguien", 1), task(2), task(2, status="CLOSED"))
    assert got.handoffs == 1


def test_plans_opt_outs_payments_and_thanks_end_a_conversation_resolved() -> None:
    for ending in (plan(31), opted_out(31), payment(31)):
        got = total(message("quiero cuotas", 30), ending)
        assert (got.conversations, got.conversations_resolved) == (1, 1), ending
    assert total(message("gracias", 30)).conversations_resolved == 1


def test_promises_and_plans_from_the_bank_are_not_from_a_conversation() -> None:
    got = total(message("quiero cuotas", 30), promise(31, "core-banking"), plan(32, "core-banking"))
    assert (got.conversation_promises, got.conversation_plans, got.promises) == (0, 0, 1)
    assert got.conversations_resolved == 0


def test_a_message_not_understood_is_read_but_not_understood() -> None:
    got = total(message("asdf", 1), message("asdf", 2))
    assert (got.messages_read, got.messages_understood, got.conversations) == (2, 0, 1)


def test_silence_ends_a_conversation_and_the_next_message_opens_another() -> None:
    got = total(message("quiero cuotas", 0), message("quiero cuotas", 60 * 49))
    assert got.conversations == 2 and got.conversations_resolved == 0


def test_an_answer_read_before_its_message_is_timed_once() -> None:
    asked = message("quiero cuotas", 10)
    got = total(answer(asked, 10.5), asked)
    assert got.answer_latency_ms == {"30000": 1}


def test_without_a_reader_no_message_or_conversation_is_counted() -> None:
    asked = message("pago el viernes", 30)
    got = total(asked, answer(asked, 31), promise(31), reader=None)
    assert (got.messages_read, got.conversations, got.conversations_resolved) == (0, 0, 0)
    assert got.answer_latency_ms == {}
    assert got.conversation_promises == 1  # what the dialogue agreed is still counted


def test_conversation_counts_are_credited_to_the_channel_written_from() -> None:
    state = DebtorKpiState()
    observe(state, outreach(), read)
    found = observe(state, message("gracias", 5, channel="whatsapp"), read)
    # (the dispatch's own reply counter stays with the dispatch's channel)
    found = [a for a in found if a.counters.messages_read or a.counters.conversations_resolved]
    assert len(found) == 2
    assert {a.touch.channel for a in found} == {"whatsapp"}
    assert {a.touch.arm for a in found} == {"s/A"}  # the dispatch the message answered


def test_a_state_written_before_conversations_were_counted_still_reads() -> None:
    old = b'{"b":{},"w":[],"n":0,"d":{},"p":{},"e":[]}'
    state = DebtorKpiState.decode(old)
    assert state.conversation is None and state.awaiting == {}
    assert DebtorKpiState.decode(state.encode()) == state


# --- redelivery: each event counts once ----------------------------------------------

TEXTS = sorted(INTENTS)


@st.composite
def stories(draw: st.DrawFn) -> list[Envelope]:
    """A debtor's conversation events in time order, answers after messages."""
    events: list[Envelope] = [outreach()]
    minute = 1.0
    for _ in range(draw(st.integers(1, 8))):
        minute += draw(st.sampled_from([0.5, 5.0, 600.0, 3000.0]))
        kind = draw(st.sampled_from(["message", "promise", "plan", "task", "payment", "opt"]))
        if kind == "message":
            asked = message(draw(st.sampled_from(TEXTS)), minute)
            events.append(asked)
            if draw(st.booleans()):
                events.append(answer(asked, minute + draw(st.sampled_from([0.01, 2.0, 90.0]))))
        elif kind == "promise":
            events.append(promise(minute))
        elif kind == "plan":
            events.append(plan(minute))
        elif kind == "task":
            events.append(task(minute, draw(st.sampled_from(["ask_human", "hardship"]))))
        elif kind == "payment":
            events.append(payment(minute))
        else:
            events.append(opted_out(minute))
    return events


@settings(max_examples=150, deadline=None)
@given(story=stories(), data=st.data())
def test_a_redelivered_event_is_counted_once(story: list[Envelope], data: st.DataObject) -> None:
    """Redeliveries (a worker that crashed before committing) repeat events
    after their first delivery; the counters are those of the story once."""
    redelivered = list(story)
    for _ in range(data.draw(st.integers(1, 6))):
        event = story[data.draw(st.integers(0, len(story) - 1))]
        first = next(k for k, e in enumerate(redelivered) if e is event)
        redelivered.insert(data.draw(st.integers(first + 1, len(redelivered))), event)
    assert total(*redelivered) == total(*story)


@settings(max_examples=150, deadline=None)
@given(story=stories())
def test_conversation_counts_hold_together(story: list[Envelope]) -> None:
    got = total(*story)
    assert got.messages_understood <= got.messages_read
    assert got.conversations_resolved <= got.conversations
    assert sum(got.handoff_reasons.values()) == got.handoffs
    assert sum(got.answer_latency_ms.values()) <= got.messages_read


# --- the time-to-answer histogram ----------------------------------------------------


@given(st.integers(min_value=-1000, max_value=10 * 86_400_000))
def test_a_latency_falls_in_the_first_bucket_that_holds_it(ms: int) -> None:
    key = latency_bucket(ms)
    if key == OVERFLOW:
        assert ms > LATENCY_BOUNDS_MS[-1]
    else:
        bound = int(key)
        assert ms <= bound
        lower = [b for b in LATENCY_BOUNDS_MS if b < bound]
        assert not lower or ms > lower[-1]


@given(st.lists(st.integers(min_value=0, max_value=2 * 86_400_000), min_size=1, max_size=60))
def test_percentiles_read_off_the_histogram_bound_the_true_ones(latencies: list[int]) -> None:
    histogram: dict[str, int] = {}
    for ms in latencies:
        key = latency_bucket(ms)
        histogram[key] = histogram.get(key, 0) + 1
    ordered = sorted(latencies)
    for q in (0.5, 0.9):
        true = ordered[math.ceil(q * len(ordered)) - 1]
        got = latency_percentile(histogram, q)
        assert got is not None and got >= true
        assert latency_bucket(true) == (OVERFLOW if math.isinf(got) else str(int(got)))
    assert latency_percentile(histogram, 0.5) <= latency_percentile(histogram, 0.9)  # type: ignore[operator]


def test_no_answer_is_no_figure_and_durations_read_as_bounds() -> None:
    assert latency_percentile({}, 0.5) is None
    assert format_duration(None) == "—"
    assert format_duration(250.0) == "≤ 250 ms"
    assert format_duration(30_000.0) == "≤ 30 s"
    assert format_duration(900_000.0) == "≤ 15 min"
    assert format_duration(math.inf) == "> 1 d"
