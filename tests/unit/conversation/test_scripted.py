"""Every scripted conversation the dialogue must handle, in Spanish,
Portuguese and English alike: a promise with and without a date, a plan
inside and outside the bounds, a dispute, an opt-out mid-negotiation, a
wrong person, silence and abuse. (test_dialogue.py checks the wording and
figures of each in one language.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from recaudo.contracts.records import ChannelResponse, DebtEvent, PaymentPlanAgreed, PromiseToPay
from recaudo.conversation import load_replies
from recaudo.conversation.dialogue import on_silence
from recaudo.orchestration.staleness import local_today
from recaudo.understanding.types import Language
from tests.unit.conversation.fixtures import Chat, u

LANGUAGES: list[Language] = ["es", "pt", "en"]
REPLIES = load_replies()
pytestmark = pytest.mark.parametrize("language", LANGUAGES)


def rendered(chat: Chat) -> str:
    reply = chat.turns[-1].reply
    assert reply is not None
    return REPLIES.render(
        reply.template,
        tone="neutral",
        locale=reply.language,
        channel=reply.channel,
        variables=reply.variables,
        opt_out=False,
    ).body


def debt_events(chat: Chat) -> list[DebtEvent]:
    return [e for t in chat.turns for e in t.events if isinstance(e, DebtEvent)]


def templates(chat: Chat) -> list[str | None]:
    return [t.reply.template if t.reply is not None else None for t in chat.turns]


def test_a_promise_with_a_date(language: Language) -> None:
    chat = Chat(language)
    day = local_today(chat.view, chat.now) + timedelta(days=3)
    chat.say(u("promise_to_pay", language=language, dates=(day,)))
    assert templates(chat) == ["promise_confirmed"]
    (event,) = debt_events(chat)
    assert isinstance(event.payload, PromiseToPay) and event.payload.promised_date == day
    assert day.isoformat() in rendered(chat)
    assert chat.turns[-1].reply is not None and chat.turns[-1].reply.language == language
    assert [p.status for p in chat.view.promises] == ["PENDING"]


def test_a_promise_without_a_date(language: Language) -> None:
    chat = Chat(language)
    chat.say(u("promise_to_pay", language=language))
    day = local_today(chat.view, chat.now) + timedelta(days=2)
    chat.say(u("unknown", 0.4, language=language, dates=(day,)))
    assert templates(chat) == ["ask_promise_date", "promise_confirmed"]
    (event,) = debt_events(chat)
    assert isinstance(event.payload, PromiseToPay) and event.payload.promised_date == day


def test_a_plan_inside_the_bounds(language: Language) -> None:
    chat = Chat(language)
    chat.say(u("ask_plan", language=language, instalments=3))
    chat.say(u("thanks_ack", language=language))
    assert templates(chat) == ["plan_offer", "plan_confirmed"]
    (event,) = debt_events(chat)
    assert isinstance(event.payload, PaymentPlanAgreed)
    assert event.payload.instalment_count == 3
    assert [p.status for p in chat.view.promises] == ["PENDING"]


def test_a_plan_outside_the_bounds(language: Language) -> None:
    chat = Chat(language)
    chat.say(u("ask_plan", language=language, instalments=24))
    assert templates(chat) == ["plan_counter"]
    offer = chat.turns[-1].state.offers[-1]
    assert offer.instalments <= 6  # the segment's max_instalments
    chat.say(u("ask_plan", language=language, instalments=offer.instalments))
    assert templates(chat)[-1] == "plan_confirmed"
    (event,) = debt_events(chat)
    assert isinstance(event.payload, PaymentPlanAgreed)
    assert event.payload.instalment_count == offer.instalments


def test_a_dispute(language: Language) -> None:
    chat = Chat(language)
    turn = chat.say(u("dispute", language=language))
    assert templates(chat) == ["dispute_received"]
    assert [e.type for e in debt_events(chat)] == ["DISPUTE_OPENED"]
    assert turn.handoff is not None and turn.handoff.reason == "dispute"
    later = chat.say(u("ask_plan", language=language, instalments=2))
    assert later.reply is None and later.events == ()


def test_an_opt_out_mid_negotiation(language: Language) -> None:
    chat = Chat(language)
    chat.say(u("ask_plan", language=language, instalments=3))
    out = chat.say(u("opt_out", language=language))
    assert templates(chat) == ["plan_offer", "opt_out_confirmed"]
    assert [(e.channel, e.status) for e in out.events if isinstance(e, ChannelResponse)] == [
        ("whatsapp", "OPTED_OUT")
    ]
    assert out.state.offers == () and out.state.status == "closed"
    chat.say(u("thanks_ack", language=language))
    assert debt_events(chat) == []


def test_a_wrong_person(language: Language) -> None:
    chat = Chat(language)
    turn = chat.say(u("wrong_person", language=language))
    assert templates(chat) == ["wrong_person"]
    assert turn.reply is not None and turn.reply.amounts == () and turn.reply.variables == {}
    assert {c.channel for c in chat.view.channels if not c.valid} == {"sms", "whatsapp"}
    assert debt_events(chat) == []


def test_silence(language: Language) -> None:
    chat = Chat(language)
    offered = chat.say(u("ask_plan", language=language, instalments=2))
    offer = offered.state.offers[-1]
    wait = timedelta(milliseconds=offer.expires_at - offer.made_at)
    reminded = on_silence(offered.state, chat.view, chat.strategy, chat.now + wait / 2)
    assert reminded.reply is not None and reminded.reply.template == "plan_offer"
    assert reminded.reply.language == language
    lapsed = on_silence(reminded.state, chat.view, chat.strategy, chat.now + wait)
    assert lapsed.reply is None and lapsed.state.status == "closed"
    chat.state = lapsed.state
    late = chat.say(u("thanks_ack", language=language), after=wait)
    assert late.events == () and debt_events(chat) == []


def test_abuse(language: Language) -> None:
    chat = Chat(language)
    chat.say(u("ask_plan", language=language, instalments=3))
    turn = chat.say(u("abusive", language=language))
    assert turn.reply is None
    assert turn.handoff is not None and turn.handoff.reason == "abusive"
    after = chat.say(u("thanks_ack", language=language))
    assert after.reply is None and debt_events(chat) == []
