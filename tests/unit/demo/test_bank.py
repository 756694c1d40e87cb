"""The demo's bank: a book that moves day by day and answers contacts consistently."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.simulator_replies import DISPOSITIONS, REPLY_LANGUAGES, Speaker, reply_to
from recaudo.contracts.records import (
    ChannelResponse,
    DaysPastDueUpdated,
    DebtEvent,
    PaymentReceived,
    PromiseToPay,
)
from recaudo.demo.bank import Account, Bank, intent_of
from recaudo.view.reducer import apply
from recaudo.view.snapshot import snapshot

START = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def reply(
    debtor_id: str, at: datetime, text: str | None, status: str = "REPLIED"
) -> ChannelResponse:
    return ChannelResponse(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{debtor_id}/{at.isoformat()}/{text}/{status}"),
        occurred_at=at,
        source="connector.sms.simulator",
        debtor_id=debtor_id,
        dispatch_id=f"d-{debtor_id}-{at.timestamp()}",
        channel="sms",
        status=status,
        provider="simulator",
        text=text,
    )


def overdue_account(bank: Bank) -> Account:
    return next(a for accounts in bank.accounts.values() for a in accounts if a.dpd > 5)


def test_same_seed_same_book_and_same_month() -> None:
    def run(seed: int) -> list[str]:
        bank = Bank(50, START, days=10, seed=seed)
        return [str(e.event_id) for e in [*bank.opening(), *bank.advance(bank.end)]]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_advance_returns_each_instant_once_in_time_order() -> None:
    bank = Bank(80, START, days=12)
    seen: list[DebtEvent] = []
    until = START
    while until < bank.end:
        until += timedelta(hours=7)
        out = bank.advance(until)
        assert all(e.occurred_at <= until for e in out)
        assert [e.occurred_at for e in out] == sorted(e.occurred_at for e in out)
        seen += out
    ids = [e.event_id for e in seen]
    assert len(ids) == len(set(ids))
    assert {e.type for e in seen} >= {"INSTALMENT_DUE", "PAYMENT_MISSED", "DAYS_PAST_DUE_UPDATED"}


def test_a_paid_reply_leads_to_a_payment_that_cures_the_debt_in_the_view() -> None:
    bank = Bank(40, START, days=20, seed=11)
    acc = overdue_account(bank)
    debtor = acc.terms.debtor.debtor_id
    history = [e for e in bank.opening() if e.debtor_id == debtor]
    history += [e for e in bank.advance(START + timedelta(days=2)) if e.debtor_id == debtor]
    at = START + timedelta(days=2, hours=3)
    # Reply texts are drawn per response: find one this debtor acts on.
    for n in range(40):
        bank.on_contact(reply(debtor, at + timedelta(minutes=n), "ya realicé el pago"))
        later = [e for e in bank.advance(at + timedelta(days=2)) if e.debtor_id == debtor]
        history += later
        if any(e.type == "PAYMENT_RECEIVED" for e in later):
            break
    else:
        raise AssertionError("a debtor who says they paid never paid in 40 tries")
    history += [e for e in bank.advance(at + timedelta(days=3)) if e.debtor_id == debtor]
    assert acc.dpd == 0

    state = None
    for event in sorted(history, key=lambda e: e.occurred_at):
        state = apply(state, event).state
    assert state is not None
    view = snapshot(state, debtor)
    account = next(a for a in view.accounts if a.account_id == acc.account_id)
    assert account.overdue_minor == 0, account
    assert account.status in ("CURED", "PAID")


def test_a_promise_is_made_once_while_it_is_open() -> None:
    bank = Bank(40, START, days=20, seed=5)
    acc = overdue_account(bank)
    debtor = acc.terms.debtor.debtor_id
    at = START + timedelta(days=1)
    first = bank.on_contact(reply(debtor, at, None, status="CALL_RIGHT_PARTY"))
    assert [e.type for e in first] == ["PROMISE_TO_PAY"]
    promise = first[0].payload
    assert isinstance(promise, PromiseToPay)
    promised = promise.promised_date
    assert at.date() + timedelta(days=2) <= promised <= at.date() + timedelta(days=7)
    assert promise.amount_minor == acc.overdue
    again = bank.on_contact(reply(debtor, at + timedelta(hours=1), "I'll pay on Friday"))
    assert again == []


def test_only_conversations_that_mean_money_move_the_bank() -> None:
    bank = Bank(40, START, days=20, seed=5)
    debtor = overdue_account(bank).terms.debtor.debtor_id
    at = START + timedelta(days=1)
    assert bank.on_contact(reply(debtor, at, None, status="DELIVERED")) == []
    assert bank.on_contact(reply(debtor, at, "STOP")) == []
    assert bank.on_contact(reply(debtor, at, "no puedo pagar este mes")) == []
    assert intent_of(reply(debtor, at, "  Quiero un plan ")) == "plan"
    assert intent_of(reply(debtor, at, "something else")) == "other"
    assert bank.on_contact(reply("D-not-a-debtor", at, "ya pagué")) == []


def test_the_bank_reads_what_a_simulated_debtor_meant() -> None:
    """Replies are written anew each time: the bank acts on their meaning, not their wording."""
    at = START + timedelta(days=1)
    acts = {
        "promise_to_pay": "promise",
        "already_paid": "paid",
        "pay_now": "paid",
        "ask_plan": "plan",
        "cannot_pay_full": "cant_pay",
        "hardship": "cant_pay",
        "opt_out": "stop",
    }
    for disposition in DISPOSITIONS:
        for language in REPLY_LANGUAGES:
            rng = random.Random(f"{disposition}/{language}")
            speaker = Speaker(language, disposition, 0.3)
            for _ in range(30):
                written = reply_to(speaker, "payment_missed", {}, (), rng)
                if written is not None:
                    act = intent_of(reply("D1", at, written.text))
                    assert act == acts.get(written.intent, "other"), written


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=30),  # hours to advance
            st.integers(min_value=0, max_value=29),  # which debtor answers
            st.sampled_from(["ya pagué", "pago el viernes", "quiero un plan", "STOP", None]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_any_mix_of_days_and_answers_keeps_the_books_consistent(
    steps: list[tuple[int, int, str | None]],
) -> None:
    """Unique event ids, no negative balance, no payment above what was owed,
    and no snapshot that contradicts a payment dated before it."""
    bank = Bank(30, START, days=6, seed=1)
    ids = {e.event_id for e in bank.opening()}
    balances = {a.account_id: a.balance for accs in bank.accounts.values() for a in accs}
    debtor_ids = sorted(bank.accounts)
    now = START
    out: list[DebtEvent] = []
    for hours, who, text in steps:
        now += timedelta(hours=hours)
        status = "REPLIED" if text else "CALL_RIGHT_PARTY"
        out += bank.on_contact(reply(debtor_ids[who], now, text, status))
        out += bank.advance(now)
    for event in sorted(out, key=lambda e: e.occurred_at):
        assert event.event_id not in ids
        ids.add(event.event_id)
        if isinstance(event.payload, PaymentReceived):
            amount = event.payload.amount_minor
            assert 0 < amount <= max(1, balances[event.account_id])
            balances[event.account_id] -= amount
        if isinstance(event.payload, DaysPastDueUpdated):
            assert event.payload.balance_minor == max(0, balances[event.account_id])
    assert all(a.balance >= 0 for accs in bank.accounts.values() for a in accs)
