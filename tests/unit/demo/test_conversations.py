"""The demo converses: its summary shows the conversation figures, its
example threads are picked by how each conversation ended, and its bank pays
what the conversation agreed, not promises of its own for written replies."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from recaudo.contracts.records import AgentTask, ChannelResponse, DebtEvent, Envelope
from recaudo.dashboard.data import Snapshot
from recaudo.demo.bank import Bank
from recaudo.demo.driver import DemoPlan, DemoStats
from recaudo.demo.report import summary
from recaudo.demo.threads import pick_examples
from recaudo.kpis import Counters

START = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
CONVERSATION = "recaudo.conversation"


def test_the_summary_shows_the_conversation_figures_only_when_there_were_any() -> None:
    plan = DemoPlan(debtors=10, days=4, seconds=30)
    talk = Counters(
        contacts=5,
        messages_read=10,
        messages_understood=9,
        conversations=4,
        conversations_resolved=3,
        conversation_promises=2,
        conversation_plans=1,
        handoffs=1,
        handoff_reasons={"hardship": 1},
        answer_latency_ms={"2000": 6, "60000": 3},
    )
    text = summary(Snapshot(overall=talk), plan, DemoStats(phase="done"), 30)
    lines = {s.strip().split("  ")[0]: s.split() for s in text.splitlines() if s.strip()}
    assert lines["Replies understood"][2] == "90.0%"
    assert lines["Resolved without a person"][4] == "75.0%"
    assert lines["Promises in conversations"][3] == "2"
    assert lines["Handed to a person"][4:] == ["1", "hardship", "1"]
    assert "".join(lines["Time to answer, median"][4:6]) == "≤2"
    quiet = summary(Snapshot(overall=Counters(contacts=5)), plan, DemoStats(phase="done"), 30)
    assert "Replies understood" not in quiet


def _reply(debtor: str, minute: int) -> ChannelResponse:
    return ChannelResponse(
        occurred_at=START + timedelta(minutes=minute),
        source="connector.sms.simulator",
        debtor_id=debtor,
        dispatch_id=f"d-{debtor}-{minute}",
        channel="sms",
        status="REPLIED",
        provider="simulator",
        text="hola",
    )


def _ending(debtor: str, kind: str) -> Envelope:
    at = START + timedelta(hours=1)
    if kind == "opt-out":
        return ChannelResponse(
            occurred_at=at,
            source=CONVERSATION,
            debtor_id=debtor,
            channel="sms",
            status="OPTED_OUT",
            provider=CONVERSATION,
        )
    if kind == "handoff":
        return AgentTask(
            occurred_at=at,
            source=CONVERSATION,
            debtor_id=debtor,
            task_id=f"task-{debtor}",
            reason="hardship",
            status="OPEN",
            priority="HIGH",
            created_at=at,
        )
    payload: dict[str, Any] = {
        "promise_id": f"P-{debtor}",
        "amount_minor": 100,
        "currency": "COP",
        "promised_date": "2026-11-05",
    }
    return DebtEvent(
        occurred_at=at,
        source=CONVERSATION,
        debtor_id=debtor,
        account_id=f"{debtor}-A0",
        type="PROMISE_TO_PAY",
        payload=payload,  # type: ignore[arg-type]
    )


def test_examples_are_the_shortest_conversation_of_each_ending_each_debtor_once() -> None:
    records: list[Envelope] = [
        *(_reply("D-long", m) for m in range(5)),
        _reply("D-short", 1),
        _reply("D-both", 1),
        _reply("D-both", 2),
        _ending("D-long", "promise"),
        _ending("D-short", "promise"),
        _ending("D-short", "handoff"),
        _ending("D-both", "handoff"),
        _ending("D-none", "opt-out"),  # no message of its own: nothing to show
    ]
    assert pick_examples(records) == {"promise": "D-short", "handoff": "D-both"}
    # A bank's own promise is not a conversation's ending.
    bank_promise = _ending("D-short", "promise").model_copy(update={"source": "core-banking"})
    assert pick_examples([_reply("D-short", 1), bank_promise]) == {}


def _overdue(bank: Bank) -> tuple[str, str]:
    for debtor, accounts in bank.accounts.items():
        for acc in accounts:
            if acc.dpd > 5 and acc.balance > 10_000:
                return debtor, acc.account_id
    raise AssertionError("no overdue account in the book")


def test_with_conversations_a_written_reply_makes_no_promise_of_the_banks_own() -> None:
    plain, talking = Bank(40, START, days=4), Bank(40, START, days=4, conversations=True)
    debtor, _ = _overdue(plain)
    texts = ["te pago el viernes sin falta", "pago el viernes", "I'll pay on Friday"]
    made = [
        plain.on_contact(_reply(debtor, i).model_copy(update={"text": t}))
        for i, t in enumerate(texts)
    ]
    assert any(made), "the plain bank turns a promise in a reply into a promise"
    for i, text in enumerate(texts):
        assert talking.on_contact(_reply(debtor, i).model_copy(update={"text": text})) == []


def test_the_bank_pays_what_the_conversation_agreed_for_a_debtor_who_pays() -> None:
    bank = Bank(40, START, days=20, conversations=True)
    debtor, account = _overdue(bank)
    bank.debtors[debtor].persona["propensity_to_pay"] = 1.0  # keeps every promise (p 0.9)
    plans = []
    for n in range(10):
        plan = DebtEvent(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"plan-{n}"),
            occurred_at=START + timedelta(hours=1),
            source=CONVERSATION,
            debtor_id=debtor,
            account_id=account,
            type="PAYMENT_PLAN_AGREED",
            payload={  # type: ignore[arg-type]
                "plan_id": f"PL-{n}",
                "instalment_count": 2,
                "instalment_minor": 1_000,
                "currency": "COP",
                "first_due_date": date(2026, 11, 8),
                "frequency": "WEEKLY",
                "total_minor": 2_000,
            },
        )
        plans.append(plan)
        bank.on_agreement(plan)
    paid = [
        e
        for e in bank.advance(bank.end)
        if e.type == "PAYMENT_RECEIVED" and "-C" in e.payload.payment_id  # type: ignore[union-attr]
    ]
    assert len(paid) >= 10, "most instalments of most plans are paid"
    assert all(e.occurred_at <= datetime(2026, 11, 15, 6, tzinfo=UTC) for e in paid)
    # Events the conversation did not write are not agreements.
    bank.on_agreement(plans[0].model_copy(update={"source": "core-banking"}))
