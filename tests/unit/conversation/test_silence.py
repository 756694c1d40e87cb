"""Silence, as the worker's timer applies it: when the dialogue waits for the
debtor (a question asked, an offer made) and nothing comes back, one
reminder halfway through the wait, then the lapse (the conversation closes,
nothing is sent, the cadence goes on); never a loop."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.conversation.dialogue import deadline, on_silence, silence_due
from recaudo.conversation.state import ConversationState
from recaudo.conversation.step import conversation_due, wake
from recaudo.orchestration.state import Contact, OrchestrationState
from recaudo.understanding.types import Language
from recaudo.view.timebase import from_ms, to_ms
from tests.unit.conversation.fixtures import Chat, u
from tests.unit.orchestration.test_answers import ORCHESTRATOR, debtor

LANGUAGES: list[Language] = ["es", "pt", "en"]


def silent_until(chat: Chat, at: datetime) -> list[str]:
    """The reply templates silence sends if the timer wakes the debtor at ``at``."""
    assert chat.state is not None
    turn = on_silence(chat.state, chat.view, chat.strategy, at)
    chat.state = turn.state
    return [] if turn.reply is None else [turn.reply.template]


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_offer_left_unanswered_gets_one_reminder_then_lapses(language: Language) -> None:
    chat = Chat(language)
    offered = chat.say(u("ask_plan", language=language, instalments=3))
    assert offered.reply is not None and offered.reply.template == "plan_offer"
    offer = offered.state.offers[-1]
    made, expires = offer.made_at, offer.expires_at
    assert silence_due(offered.state) == made + (expires - made) // 2
    assert silent_until(chat, from_ms(made + (expires - made) // 2 - 1000)) == []
    halfway = from_ms(made + (expires - made) // 2)
    turn = on_silence(offered.state, chat.view, chat.strategy, halfway)
    assert turn.reply is not None
    # The same offer put again, on the channel it went on, in the debtor's language.
    assert (turn.reply.template, turn.reply.channel, turn.reply.language) == (
        "plan_offer",
        offered.reply.channel,
        language,
    )
    assert turn.reply.variables == offered.reply.variables
    assert turn.events == () and turn.state.reminded
    chat.state = turn.state
    assert silence_due(chat.state) == expires
    assert silent_until(chat, from_ms(expires - 1000)) == []
    lapsed = on_silence(chat.state, chat.view, chat.strategy, from_ms(expires))
    assert lapsed.reply is None and lapsed.events == ()
    assert lapsed.state.status == "closed" and lapsed.state.offers == ()
    assert conversation_due(lapsed.state) is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_question_left_unanswered_is_asked_once_more_then_lapses(language: Language) -> None:
    chat = Chat(language)
    asked = chat.say(u("promise_to_pay", language=language))
    assert asked.reply is not None and asked.reply.template == "ask_promise_date"
    sent_at = chat.now
    assert silent_until(chat, sent_at + timedelta(hours=11)) == []
    assert silent_until(chat, sent_at + timedelta(hours=12)) == ["ask_promise_date"]
    assert silent_until(chat, sent_at + timedelta(hours=20)) == []
    assert silent_until(chat, sent_at + timedelta(hours=24)) == []
    assert chat.state is not None and chat.state.status == "closed"
    assert chat.state.pending is None


def test_the_reminder_asks_for_the_amount_the_question_named() -> None:
    chat = Chat("es")
    asked = chat.say(u("promise_to_pay"))
    assert asked.reply is not None
    reminder = on_silence(asked.state, chat.view, chat.strategy, chat.now + timedelta(hours=12))
    assert reminder.reply is not None
    assert reminder.reply.variables == asked.reply.variables
    assert reminder.reply.amounts == asked.reply.amounts


def test_the_debtors_next_message_allows_one_more_reminder() -> None:
    chat = Chat("pt")
    chat.say(u("ask_plan", language="pt"))  # asks how many instalments
    assert silent_until(chat, chat.now + timedelta(hours=12)) == ["ask_instalments"]
    chat.say(u("ask_plan", language="pt", instalments=4), after=timedelta(hours=13))
    assert chat.state is not None and not chat.state.reminded
    assert silent_until(chat, chat.now + timedelta(hours=24)) == ["plan_offer"]


def test_nothing_waited_for_means_no_reminder() -> None:
    chat = Chat("en")
    chat.say(u("ask_balance", language="en"))
    assert chat.state is not None and deadline(chat.state) is None
    assert silence_due(chat.state) is None
    assert silent_until(chat, chat.now + timedelta(days=3)) == []


@settings(max_examples=80, deadline=None)
@given(
    language=st.sampled_from(LANGUAGES),
    opening=st.sampled_from(["plan", "plan_count", "promise", "settlement"]),
    wakes=st.lists(st.integers(0, 80 * 60), min_size=1, max_size=12),
)
def test_silence_never_loops(language: Language, opening: str, wakes: list[int]) -> None:
    chat = Chat(language, dpd=120 if opening == "settlement" else 45)
    if opening == "plan":
        chat.say(u("ask_plan", language=language))
    elif opening == "plan_count":
        chat.say(u("ask_plan", language=language, instalments=2))
    elif opening == "promise":
        chat.say(u("promise_to_pay", language=language))
    else:
        chat.say(u("cannot_pay_full", language=language))
    start = chat.now
    sent: list[str] = []
    for minutes in sorted(wakes):
        sent += silent_until(chat, start + timedelta(minutes=minutes))
    assert len(sent) <= 1
    assert chat.state is not None
    if sorted(wakes)[-1] * 60_000 >= 80 * 3_600_000:
        assert chat.state.status == "closed"


def test_a_reminder_counts_against_the_frequency_caps_an_answer_ignores() -> None:
    chat = Chat("es", channel="sms")
    asked = chat.say(u("promise_to_pay"))
    remind_at = from_ms(silence_due(asked.state) or 0)
    view = debtor(remind_at)
    state = ConversationState(
        debtor_id="D-1",
        account_id="ACC-1",
        status="waiting",
        pending="promise_date",
        asked={"promise_date": 1},
        turns=asked.state.turns,
        last_outbound_at=asked.state.last_outbound_at,
        last_inbound_at=asked.state.last_inbound_at,
        seen=("m-1",),
    )
    # Inside Ley 2300's hours; an outreach on SMS earlier that day.
    local_noon = remind_at.replace(hour=17, minute=0)
    earlier = OrchestrationState(
        contacts=[Contact(to_ms(local_noon - timedelta(hours=2)), "sms", "ACC-1", "d-0")]
    )
    capped = wake(ORCHESTRATOR, earlier, view, state, local_noon)
    assert capped is not None
    outputs, _ = capped
    assert outputs.dispatches == []
    free = wake(ORCHESTRATOR, OrchestrationState(), view, state, local_noon)
    assert free is not None
    outputs, after = free
    (reminder,) = outputs.dispatches
    assert reminder.template == "conversation.ask_promise_date" and after.reminded
