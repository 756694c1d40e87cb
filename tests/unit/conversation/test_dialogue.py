"""The dialogue over scripted conversations in Spanish, Portuguese and English."""

from __future__ import annotations

from datetime import date, timedelta

from recaudo.contracts.money import format_money
from recaudo.contracts.records import ChannelResponse, DebtEvent, PaymentPlanAgreed, PromiseToPay
from recaudo.conversation import ConversationState, load_replies, respond
from recaudo.conversation.dialogue import deadline, lapse
from recaudo.orchestration.staleness import local_today
from recaudo.understanding.types import Amount
from tests.unit.conversation.fixtures import Chat, u

REPLIES = load_replies()


def today(chat: Chat) -> date:
    return local_today(chat.view, chat.now)


def debt_events(chat: Chat) -> list[DebtEvent]:
    return [e for t in chat.turns for e in t.events if isinstance(e, DebtEvent)]


def responses(chat: Chat) -> list[ChannelResponse]:
    return [e for t in chat.turns for e in t.events if isinstance(e, ChannelResponse)]


def rendered(chat: Chat) -> str:
    """The last reply as the debtor reads it."""
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


# --- promises --------------------------------------------------------------------------


def test_es_a_promise_with_a_date_is_recorded_and_the_view_shows_it() -> None:
    chat = Chat("es")
    friday = today(chat) + timedelta(days=3)
    turn = chat.say(u("promise_to_pay", dates=(friday,)), text="pago el viernes")
    assert turn.reply is not None and turn.reply.template == "promise_confirmed"
    (event,) = turn.events
    assert isinstance(event, DebtEvent) and isinstance(event.payload, PromiseToPay)
    assert (event.payload.amount_minor, event.payload.promised_date) == (400_000, friday)
    assert event.payload.currency == "COP"
    assert [(p.status, p.promised_date) for p in chat.view.promises] == [("PENDING", friday)]
    assert format_money(400_000, "COP") in rendered(chat)
    assert turn.state.status == "closed"


def test_pt_a_promise_without_a_date_asks_for_it_once() -> None:
    chat = Chat("pt")
    first = chat.say(u("promise_to_pay", language="pt"), text="vou pagar")
    assert first.reply is not None and first.reply.template == "ask_promise_date"
    assert first.reply.asks == "promise_date" and first.events == ()
    assert rendered(chat).startswith("Obrigado. Em que data")
    day15 = today(chat) + timedelta(days=5)
    second = chat.say(u("promise_to_pay", language="pt", dates=(day15,)), text="dia 15")
    assert second.reply is not None and second.reply.template == "promise_confirmed"
    assert [type(e.payload).__name__ for e in debt_events(chat)] == ["PromiseToPay"]


def test_en_a_date_still_missing_after_one_question_gets_a_proposal_not_a_loop() -> None:
    chat = Chat("en")
    chat.say(u("promise_to_pay", language="en"), text="I'll pay")
    again = chat.say(u("promise_to_pay", language="en"), text="I will pay, promise")
    assert again.reply is not None
    assert again.reply.template == "promise_counter" and again.reply.asks is None
    latest = today(chat) + timedelta(days=7)  # the segment's max_promise_days
    assert again.reply.variables["due_date"] == latest.isoformat()
    accepted = chat.say(u("thanks_ack", language="en"), text="yes")
    (event,) = accepted.events
    assert isinstance(event, DebtEvent) and isinstance(event.payload, PromiseToPay)
    assert event.payload.promised_date == latest
    asked = [t.reply.asks for t in chat.turns if t.reply is not None and t.reply.asks]
    assert asked == ["promise_date"]


def test_es_a_promise_too_late_and_too_small_is_countered_at_the_bounds() -> None:
    chat = Chat("es")
    late = today(chat) + timedelta(days=30)
    turn = chat.say(
        u("promise_to_pay", dates=(late,), amounts=(Amount(minor=50_000, currency="COP"),)),
        text="pago 500 el mes que viene",
    )
    assert turn.reply is not None and turn.reply.template == "promise_counter"
    assert turn.events == ()
    offer = turn.state.offers[-1]
    # 50 % of the overdue 400 000, by at most 7 days from today: at the bound, not beyond.
    assert (offer.total_minor, offer.due) == (200_000, today(chat) + timedelta(days=7))


# --- plans -------------------------------------------------------------------------------


def test_es_a_plan_inside_the_bounds_is_offered_then_agreed() -> None:
    chat = Chat("es")
    offered = chat.say(u("ask_plan", instalments=3), text="puedo en 3 cuotas?")
    assert offered.reply is not None and offered.reply.template == "plan_offer"
    assert offered.reply.variables["instalments"] == "3"
    assert "3 cuotas mensuales de COP 1,333.34 (la última de COP 1,333.32)" in rendered(chat)
    agreed = chat.say(u("thanks_ack"), text="dale, sí")
    (event,) = agreed.events
    assert isinstance(event, DebtEvent) and isinstance(event.payload, PaymentPlanAgreed)
    p = event.payload
    assert (p.instalment_count, p.instalment_minor, p.total_minor) == (3, 133_334, 400_000)
    assert p.frequency == "MONTHLY" and p.currency == "COP"
    (plan,) = chat.view.promises
    assert (plan.promise_id, plan.status, plan.amount_minor) == (p.plan_id, "PENDING", 133_334)


def test_en_a_plan_beyond_the_bounds_gets_a_counter_offer_at_the_bound() -> None:
    chat = Chat("en")
    turn = chat.say(u("ask_plan", language="en", instalments=24), text="24 payments?")
    assert turn.reply is not None and turn.reply.template == "plan_counter"
    offer = turn.state.offers[-1]
    # max_instalments is 6, but a first payment of at least 20 % allows 5.
    assert (offer.instalments, offer.instalment_minor) == (5, 80_000)
    assert rendered(chat).startswith("The most we can offer is 5 monthly instalments")


def test_pt_a_plan_without_a_count_asks_once_then_proposes_the_most_allowed() -> None:
    chat = Chat("pt")
    ask = chat.say(u("ask_plan", language="pt"), text="quero parcelar")
    assert ask.reply is not None and ask.reply.asks == "plan_instalments"
    assert "até 5" in rendered(chat)  # 6 allowed, 5 with a first payment of 20 %
    proposal = chat.say(u("unknown", 0.3, language="pt"), text="hmm")
    assert proposal.reply is not None and proposal.reply.template == "plan_offer"
    assert proposal.state.offers[-1].instalments == 5


def test_en_a_settlement_is_offered_past_90_days_within_the_discount_ceiling() -> None:
    chat = Chat("en", dpd=120)
    turn = chat.say(u("cannot_pay_full", language="en"), text="I can't pay all of it")
    assert turn.reply is not None and turn.reply.template == "settlement_offer"
    offer = turn.state.offers[-1]
    assert (offer.discount_minor, offer.total_minor) == (360_000, 840_000)  # 30 % of 1 200 000
    agreed = chat.say(u("thanks_ack", language="en"), text="ok")
    (event,) = agreed.events
    assert isinstance(event, DebtEvent) and isinstance(event.payload, PromiseToPay)
    assert event.payload.amount_minor == 840_000


# --- disputes, opt-outs, wrong person, abuse, not understood -----------------------------


def test_pt_a_dispute_opens_one_and_hands_off_then_replies_stop() -> None:
    chat = Chat("pt")
    turn = chat.say(u("not_my_debt", language="pt"), text="essa dívida não é minha")
    assert turn.reply is not None and turn.reply.template == "dispute_received"
    assert [e.type for e in debt_events(chat)] == ["DISPUTE_OPENED"]
    assert turn.handoff is not None and turn.handoff.reason == "dispute"
    assert [d.status for d in chat.view.disputes] == ["OPEN"]
    later = chat.say(u("ask_balance", language="pt"), text="quanto devo?")
    assert later.reply is None and later.events == ()


def test_es_an_opt_out_mid_negotiation_ends_it_at_once() -> None:
    chat = Chat("es")
    chat.say(u("ask_plan", instalments=3), text="en 3 cuotas")
    out = chat.say(u("opt_out"), text="no me escriban más")
    assert [(r.channel, r.status) for r in responses(chat)] == [("whatsapp", "OPTED_OUT")]
    assert out.state.offers == () and out.state.pending is None
    assert out.reply is not None and out.reply.template == "opt_out_confirmed"
    assert {c.channel: c.opted_out for c in chat.view.channels}["whatsapp"] is True
    yes = chat.say(u("thanks_ack"), text="ok")
    assert debt_events(chat) == [] and yes.events == ()


def test_en_an_opt_out_from_every_channel() -> None:
    chat = Chat("en")
    chat.say(u("opt_out", language="en", scope="all"), text="stop contacting me at all")
    assert {r.channel for r in responses(chat)} == {"sms", "email", "whatsapp", "voice"}
    assert all(c.opted_out for c in chat.view.channels)


def test_es_an_opt_out_in_doubt_is_an_opt_out() -> None:
    chat = Chat("es")
    chat.say(u("unknown", 0.5, alternatives=(("opt_out", 0.3),)), text="ya basta")
    assert [r.status for r in responses(chat)] == ["OPTED_OUT"]


def test_en_a_wrong_person_invalidates_that_number_and_learns_nothing() -> None:
    chat = Chat("en")
    turn = chat.say(u("wrong_person", language="en"), text="wrong number, who is this?")
    assert {(r.channel, r.status, r.error_code) for r in responses(chat)} == {
        ("sms", "FAILED", "WRONG_PARTY"),
        ("whatsapp", "FAILED", "WRONG_PARTY"),
    }
    valid = {c.channel: c.valid for c in chat.view.channels}
    assert (valid["sms"], valid["whatsapp"], valid["email"]) == (False, False, True)
    assert turn.reply is not None and turn.reply.amounts == () and "USD" not in rendered(chat)


def test_es_abuse_goes_to_a_person_without_a_reply() -> None:
    chat = Chat("es")
    turn = chat.say(u("abusive"), text="...")
    assert turn.reply is None
    assert turn.handoff is not None and turn.handoff.reason == "abusive"
    assert turn.handoff.transcript[-1].text == "..."


def test_pt_repeated_unknown_goes_to_a_person_after_one_clarification() -> None:
    chat = Chat("pt")
    first = chat.say(u("unknown", 0.9, language="pt"), text="???")
    assert first.reply is not None and first.reply.template == "clarify"
    second = chat.say(u("ask_balance", 0.4, language="pt"), text="e aí")
    assert second.handoff is not None and second.handoff.reason == "not_understood"
    assert [t.intent for t in second.handoff.transcript if t.direction == "in"] == [
        "unknown",
        "unknown",
    ]


def test_en_the_turn_limit_hands_off() -> None:
    chat = Chat("en")
    for _ in range(12):
        assert chat.say(u("ask_balance", language="en")).handoff is None
    assert chat.say(u("ask_balance", language="en")).handoff is not None


def test_es_a_balance_question_is_answered_from_the_view() -> None:
    chat = Chat("es")
    turn = chat.say(u("ask_balance"), text="cuánto debo")
    assert turn.reply is not None and turn.reply.amounts == (400_000, 1_200_000)
    assert "COP 4,000.00" in rendered(chat) and "COP 12,000.00" in rendered(chat)


def test_es_a_payment_the_view_does_not_show_goes_to_a_person() -> None:
    chat = Chat("es")
    turn = chat.say(u("already_paid"), text="ya pagué")
    assert turn.handoff is not None and turn.handoff.reason == "already_paid"


# --- silence, redelivery, state -----------------------------------------------------------


def test_en_silence_lapses_the_offer_and_a_late_yes_agrees_nothing() -> None:
    chat = Chat("en")
    offered = chat.say(u("ask_plan", language="en", instalments=3))
    expires = offered.state.offers[-1].expires_at
    assert deadline(offered.state) == expires
    late = chat.say(u("thanks_ack", language="en"), after=timedelta(hours=49))
    assert late.events == () and late.reply is None
    assert late.state.offers == () and late.state.status == "closed"


def test_lapse_alone_closes_a_waiting_question() -> None:
    chat = Chat("es")
    asked = chat.say(u("promise_to_pay"))
    assert asked.state.status == "waiting"
    assert lapse(asked.state, chat.now + timedelta(hours=23)).status == "waiting"
    assert lapse(asked.state, chat.now + timedelta(hours=24)).status == "closed"


def test_a_redelivered_message_is_answered_once() -> None:
    chat = Chat("es")
    day = today(chat) + timedelta(days=2)
    first = chat.say(u("promise_to_pay", dates=(day,)), message_id="wamid.1")
    again = chat.say(u("promise_to_pay", dates=(day,)), message_id="wamid.1")
    assert first.reply is not None and len(first.events) == 1
    assert again.reply is None and again.events == () and again.state == first.state


def test_event_ids_depend_on_the_message_not_on_the_moment() -> None:
    day_offset = timedelta(days=2)
    ids = []
    for wait in (timedelta(minutes=1), timedelta(minutes=9)):
        chat = Chat("es")
        turn = chat.say(
            u("promise_to_pay", dates=(today(chat) + day_offset,)), after=wait, message_id="wamid.7"
        )
        ids.append([(e.event_id, e.payload.promise_id) for e in turn.events])  # type: ignore[union-attr]
    assert ids[0] == ids[1]


def test_the_state_round_trips_mid_negotiation() -> None:
    chat = Chat("pt")
    chat.say(u("ask_plan", language="pt", instalments=2), text="em 2 vezes")
    assert chat.state is not None
    assert ConversationState.from_bytes(chat.state.to_bytes()) == chat.state
    assert len(chat.state.to_bytes()) < 1200


def test_es_a_date_answers_the_question_even_when_the_intent_is_unclear() -> None:
    chat = Chat("es")
    chat.say(u("promise_to_pay"), text="voy a pagar")
    day = today(chat) + timedelta(days=4)
    turn = chat.say(u("unknown", 0.4, dates=(day,)), text="el 15")
    assert turn.reply is not None and turn.reply.template == "promise_confirmed"
    assert [e.type for e in turn.events if isinstance(e, DebtEvent)] == ["PROMISE_TO_PAY"]


def test_en_a_dispute_past_the_turn_limit_is_still_opened() -> None:
    chat = Chat("en")
    for _ in range(12):
        chat.say(u("ask_balance", language="en"))
    turn = chat.say(u("dispute", language="en"), text="this is wrong")
    assert [e.type for e in turn.events if isinstance(e, DebtEvent)] == ["DISPUTE_OPENED"]
    assert turn.handoff is not None and turn.handoff.reason == "dispute"


def test_pt_an_agreed_plan_names_its_conversation_and_dispatch() -> None:
    chat = Chat("pt")
    chat.say(u("ask_plan", language="pt", instalments=2), message_id="m1")
    turn = chat.say(u("thanks_ack", language="pt"), message_id="m2", dispatch_id="disp-9")
    (event,) = turn.events
    assert isinstance(event, DebtEvent) and isinstance(event.payload, PaymentPlanAgreed)
    assert event.payload.conversation_id == "D-1/m1"
    assert (event.payload.dispatch_id, event.payload.channel) == ("disp-9", "whatsapp")


def test_en_an_amount_in_another_currency_is_put_back_to_the_debtor_not_agreed() -> None:
    chat = Chat("en")
    day = today(chat) + timedelta(days=2)
    turn = chat.say(
        u("promise_to_pay", language="en", dates=(day,), amounts=(Amount(10_000, "EUR"),)),
        text="I'll pay 100 euros on Friday",
    )
    assert turn.events == ()
    assert turn.reply is not None and turn.reply.template == "promise_counter"
    assert turn.state.offers[-1].total_minor == 400_000  # the overdue amount, in USD


def test_es_a_flagged_debtor_gets_no_automatic_answer() -> None:
    chat = Chat("es")
    flagged = chat.view.model_copy(
        update={"flags": chat.view.flags.model_copy(update={"cease_and_desist": True})}
    )
    turn = respond(None, u("promise_to_pay"), flagged, chat.strategy, chat.now, "sms")
    assert turn.reply is None and turn.events == ()
    assert turn.handoff is not None and turn.handoff.reason == "restricted"


def test_es_an_opt_out_of_the_channel_named_leaves_the_one_written_from() -> None:
    chat = Chat("es")
    chat.say(u("opt_out", scope="channel", channels=("voice",)), text="no me llamen más")
    assert [(r.channel, r.status) for r in responses(chat)] == [("voice", "OPTED_OUT")]
    opted = {c.channel: c.opted_out for c in chat.view.channels}
    assert opted["whatsapp"] is False
