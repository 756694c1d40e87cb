"""What an agent does, as records: a reply carried by the task's record, the
same debt events a conversation makes, a CLOSED record; ids from the task and
the submitted form, so a form sent twice makes the same records."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.contracts.records import AgentTask, ChannelResponse, DebtEvent, PaymentPlanAgreed
from recaudo.contracts.schemas import schema_json
from recaudo.desk import actions
from recaudo.desk.actions import DeskError, Outcome
from recaudo.kafka.avro_writer import encoder_for
from tests.unit.desk.fixtures import FORM, T0, TODAY, a_task, a_view

LATER = T0 + timedelta(minutes=5)


def roundtrip(task: AgentTask) -> AgentTask:
    schema = fastavro.parse_schema(schema_json("AgentTask"))
    reference = io.BytesIO()
    fastavro.schemaless_writer(reference, schema, task.to_avro())
    assert encoder_for("AgentTask")(task) == reference.getvalue()
    reference.seek(0)
    record = fastavro.schemaless_reader(reference, schema, schema)
    assert isinstance(record, dict)
    return AgentTask.from_avro(record)


def test_a_reply_goes_on_the_channel_the_debtor_last_wrote_from() -> None:
    task = a_task()
    record = actions.reply(task, "ana", "  Hola, soy Ana.  ", FORM, LATER)
    assert record.status == "OPEN" and record.task_id == task.task_id
    assert record.agent_reply is not None
    assert record.agent_reply.channel == "whatsapp"
    assert record.agent_reply.text == "Hola, soy Ana."
    assert record.agent_reply.agent == "ana"
    assert record.transcript[:-1] == task.transcript
    assert record.transcript[-1].direction == "OUTBOUND"
    assert record.transcript[-1].text == "Hola, soy Ana."
    assert record.occurred_at == LATER and record.source == actions.SOURCE
    assert roundtrip(record) == record


def test_one_form_one_reply_id_another_form_another() -> None:
    task = a_task()
    first = actions.reply(task, "ana", "Hola", FORM, LATER)
    again = actions.reply(task, "ana", "Hola", FORM, LATER + timedelta(seconds=3))
    other = actions.reply(task, "ana", "Hola", "form-another-one-123", LATER)
    assert first.agent_reply is not None and again.agent_reply is not None
    assert other.agent_reply is not None
    assert first.event_id == again.event_id == first.agent_reply.reply_id
    assert again.agent_reply.reply_id == first.agent_reply.reply_id
    assert other.agent_reply.reply_id != first.agent_reply.reply_id


@pytest.mark.parametrize(
    ("task", "text", "form", "message"),
    [
        (a_task(transcript=[]), "Hola", FORM, "written nothing"),
        (a_task(), "   ", FORM, "empty"),
        (a_task(), "x" * 1601, FORM, "at most 1600"),
        (a_task(), "Hola", "short", "form_id"),
        (
            a_task(status="CLOSED", closed_at=T0, closed_by="luis"),
            "Hola",
            FORM,
            "closed",
        ),
    ],
)
def test_a_reply_that_cannot_go_says_why(
    task: AgentTask, text: str, form: str, message: str
) -> None:
    with pytest.raises(DeskError, match=message):
        actions.reply(task, "ana", text, form, LATER)


def test_closing_names_the_agent_and_drops_any_reply() -> None:
    task = actions.reply(a_task(), "ana", "Hola", FORM, LATER)
    closed = actions.close(task, "ana", "called back, will pay Friday", "form-close-12345", LATER)
    assert closed.status == "CLOSED" and closed.closed_by == "ana"
    assert closed.closed_at == LATER and closed.outcome == "called back, will pay Friday"
    assert closed.agent_reply is None
    assert closed.event_id == actions.desk_id(task.task_id, "form-close-12345", "close")
    assert roundtrip(closed) == closed
    with pytest.raises(DeskError, match="closed already"):
        actions.close(closed, "ana", "", "form-close-12345", LATER)


def test_a_promise_is_a_promise_to_pay_on_the_tasks_account() -> None:
    outcome = actions.parse_outcome(
        {"kind": "promise", "amount": "200,000.50", "due": "2026-11-20"}, "COP", TODAY
    )
    assert outcome == Outcome(
        "promise", amount_minor=20_000_050, currency="COP", due=date(2026, 11, 20)
    )
    (event,) = actions.outcome_records(a_task(), a_view(), outcome, FORM, LATER)
    assert isinstance(event, DebtEvent) and event.type == "PROMISE_TO_PAY"
    assert event.account_id == "D-CO-0001-ACC-1" and event.source == actions.SOURCE
    assert event.payload.model_dump() == {
        "promise_id": event.payload.promise_id,  # type: ignore[union-attr]
        "amount_minor": 20_000_050,
        "currency": "COP",
        "promised_date": date(2026, 11, 20),
        "channel": "whatsapp",
    }
    (same,) = actions.outcome_records(a_task(), a_view(), outcome, FORM, LATER)
    assert same == event, "the same form makes the same event"


@given(
    total=st.integers(1, 10**9),
    instalments=st.integers(1, 120),
    frequency=st.sampled_from(["WEEKLY", "FORTNIGHTLY", "MONTHLY"]),
)
def test_a_plan_is_a_valid_plan_covering_its_total(
    total: int, instalments: int, frequency: str
) -> None:
    outcome = Outcome(
        "plan",
        amount_minor=total,
        currency="COP",
        due=date(2026, 12, 1),
        instalments=instalments,
        frequency=frequency,  # type: ignore[arg-type]
    )
    split = -(-total // instalments)
    if (instalments - 1) * split >= total:  # the last instalment would pay nothing
        with pytest.raises(DeskError, match="fewer instalments"):
            actions.outcome_records(a_task(), a_view(), outcome, FORM, LATER)
        return
    (event,) = actions.outcome_records(a_task(), a_view(), outcome, FORM, LATER)
    assert isinstance(event, DebtEvent) and event.type == "PAYMENT_PLAN_AGREED"
    plan = event.payload
    assert isinstance(plan, PaymentPlanAgreed)
    assert plan.total_minor == total and plan.instalment_count == instalments
    assert (instalments - 1) * plan.instalment_minor < total <= instalments * plan.instalment_minor


def test_a_dispute_opens_one_on_the_account() -> None:
    outcome = actions.parse_outcome({"kind": "dispute", "reason": "cargo duplicado"}, "COP", TODAY)
    (event,) = actions.outcome_records(a_task(), a_view(), outcome, FORM, LATER)
    assert isinstance(event, DebtEvent) and event.type == "DISPUTE_OPENED"
    assert event.payload.reason == "cargo duplicado"  # type: ignore[union-attr]


def test_a_wrong_party_invalidates_the_channel_written_from() -> None:
    outcome = actions.parse_outcome({"kind": "wrong_party"}, "COP", TODAY)
    (response,) = actions.outcome_records(a_task(), None, outcome, FORM, LATER)
    assert isinstance(response, ChannelResponse)
    assert (response.channel, response.status, response.error_code) == (
        "whatsapp",
        "FAILED",
        "WRONG_PARTY",
    )


def test_a_call_back_makes_no_event() -> None:
    outcome = actions.parse_outcome({"kind": "call_back", "at": "2026-11-19T10:30"}, "COP", TODAY)
    assert outcome.call_back_at == datetime(2026, 11, 19, 10, 30)
    assert actions.outcome_records(a_task(), a_view(), outcome, FORM, LATER) == []


def test_without_an_account_on_the_task_the_only_overdue_one_is_used() -> None:
    task = a_task(account_id=None)
    assert actions.account_of(task, a_view()).account_id == "D-CO-0001-ACC-1"
    with pytest.raises(DeskError, match="2 overdue accounts"):
        actions.account_of(task, a_view(accounts=2))
    with pytest.raises(DeskError, match="not in the debtor's view"):
        actions.account_of(a_task(account_id="OTHER"), a_view())


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "bribe"}, "not one of"),
        ({"kind": "promise", "amount": "100", "due": "2026-11-17"}, "past"),
        ({"kind": "promise", "amount": "ten", "due": "2026-11-20"}, "not a number"),
        ({"kind": "promise", "amount": "1.001", "due": "2026-11-20"}, "at most 2 decimals"),
        ({"kind": "promise", "amount": "0", "due": "2026-11-20"}, "above 0"),
        ({"kind": "promise", "amount": "10", "due": "friday"}, "YYYY-MM-DD"),
        ({"kind": "plan", "amount": "10", "due": "2026-12-01", "instalments": "0"}, "1 to 120"),
        (
            {"kind": "plan", "amount": "10", "due": "2026-12-01", "instalments": "3"},
            "frequency",
        ),
        ({"kind": "dispute", "reason": " "}, "needs a reason"),
        ({"kind": "call_back", "at": "later"}, "date and time"),
    ],
)
def test_a_form_that_does_not_describe_an_outcome_says_what_to_fix(
    form: dict[str, str], message: str
) -> None:
    with pytest.raises(DeskError, match=message):
        actions.parse_outcome(form, "COP", TODAY)


def test_amounts_follow_the_currencys_minor_units() -> None:
    assert actions.parse_amount("1500", "CLP") == 1500
    assert actions.parse_amount("12.345", "BHD") == 12345
    with pytest.raises(DeskError):
        actions.parse_amount("1500.5", "CLP")
