"""The dialogue: from a conversation's state, what the debtor's message was
understood to say, the debtor's 360-degree view and the bank's bounds, the
reply to send, the events it causes and, when a person must take over, the
handoff. Pure: no Kafka, no clock (``now`` is given).

Rules (``docs/conversations.md``, "Dialogue and negotiation"):

* opt-out first: a message whose intent is ``opt_out``, or that has
  ``opt_out`` among its alternatives at :attr:`Limits.opt_out_doubt` or more,
  opts out (the channel written from, or every channel), withdraws every offer
  and closes the conversation at once, whatever was being negotiated;
* a message below :attr:`Limits.min_confidence` counts as not understood; the
  second in a row (:attr:`Limits.max_not_understood`) goes to a person;
* a slot is asked once: a promise without a date asks for the date; still
  none in the next message and the dialogue proposes the latest date the
  bounds allow instead of asking again; a plan without a number of
  instalments asks once, then proposes the most the bounds allow;
* offers keep to the bounds (:mod:`recaudo.conversation.negotiation`); a
  request outside them gets a counter-offer at the bound, which the debtor
  accepts with a yes (``thanks_ack``) or by repeating it;
* every amount in a reply comes from the view, the bounds or the debtor's own
  words (:attr:`Reply.amounts` lists them);
* dispute, hardship, ask_human, abusive, a payment the view does not show,
  no bounds for the segment and :attr:`Limits.max_turns` messages without an
  agreement go to a person (:class:`Handoff`); no automatic reply follows
  until :func:`close_handoff` (an opt-out or a wrong number is still honoured,
  silently);
* silence: an offer lapses at its ``expires_at`` (the segment's
  ``offer_expires_after``), a question after :attr:`Limits.question_expires_after`;
  the worker's timer applies it (:func:`on_silence`): one reminder halfway,
  then the lapse (:func:`lapse`), when the conversation closes and nothing is
  emitted: the contact strategy never paused for it (only a promise or a
  plan pauses it);
* a message is answered once: its id is remembered (``message_id``), and every
  id the dialogue makes is derived from the debtor and that message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Final, Literal

from recaudo.contracts.money import format_money
from recaudo.contracts.records import (
    CHANNELS,
    AccountView,
    Channel,
    ChannelResponse,
    DebtEvent,
    DebtorView,
    DisputeOpened,
    ResponseStatus,
)
from recaudo.conversation.negotiation import (
    Offer,
    agreement,
    named_amount,
    owed,
    plan_terms,
    promise_terms,
    settlement_terms,
)
from recaudo.conversation.state import (
    MAX_SEEN,
    ConversationState,
    HeldAnswer,
    Slot,
    TurnRecord,
)
from recaudo.orchestration.staleness import local_today
from recaudo.orchestration.strategy import NegotiationBounds, Strategy
from recaudo.understanding.types import Intent, Understanding
from recaudo.view.timebase import to_ms

SOURCE: Final = "recaudo.conversation"
CONVERSATION_NAMESPACE: Final = uuid.UUID("9d3c6a41-27b8-4f0e-a5d2-6c1e8b7f3a95")
PHONE_CHANNELS: Final[frozenset[str]] = frozenset({"sms", "whatsapp", "voice"})
#: the error code of a wrong-party invalidation (a FAILED or BOUNCED response)
WRONG_PARTY: Final = "WRONG_PARTY"

HandoffReason = Literal[
    "ask_human",
    "hardship",
    "dispute",
    "abusive",
    "not_understood",
    "turn_limit",
    "already_paid",
    "no_bounds",
    "no_account",
    "restricted",
]
SUGGESTED: Final[Mapping[HandoffReason, str]] = {
    "ask_human": "call the debtor back on the channel they wrote from",
    "hardship": "review the debtor's situation for a hardship programme before any collection",
    "dispute": "investigate the dispute; collection on the account is paused meanwhile",
    "abusive": "review the transcript; answer, if at all, by a person",
    "not_understood": "read the transcript and answer the debtor",
    "turn_limit": "read the transcript and close the negotiation with the debtor",
    "already_paid": "check the payment the debtor reports against the bank's ledger",
    "no_bounds": "negotiate by hand: the strategy has no [[negotiation]] bounds for this segment",
    "no_account": "identify the debtor's account: the view shows none open",
    "restricted": "the debtor is flagged (cease and desist, bankruptcy or deceased): "
    "answer, if at all, by a person under the rules that apply",
}
#: intents a person handles, the reason they are handed off for
HANDED_OFF: Final[Mapping[Intent, HandoffReason]] = {
    "ask_human": "ask_human",
    "hardship": "hardship",
    "dispute": "dispute",
    "not_my_debt": "dispute",
    "abusive": "abusive",
}


@dataclass(frozen=True, slots=True)
class Limits:
    #: inbound messages in one conversation before a person takes over
    max_turns: int = 12
    #: consecutive messages not understood before a person takes over
    max_not_understood: int = 2
    #: below this an intent counts as not understood (opt-out excepted)
    min_confidence: float = 0.6
    #: opt_out at least this likely among the alternatives opts out (when in doubt)
    opt_out_doubt: float = 0.2
    #: a question left unanswered this long lapses
    question_expires_after: timedelta = timedelta(hours=24)
    #: share of an offer's or question's life after which silence gets the one reminder
    remind_at_share: float = 0.5


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send: a template of :mod:`recaudo.conversation.replies`, on the
    channel the debtor wrote from, in their language."""

    template: str
    variables: Mapping[str, str]
    channel: Channel
    language: str
    #: every amount the variables show, minor units (all from the view, the
    #: bounds or the debtor's words)
    amounts: tuple[int, ...] = ()
    #: the slot this reply asks for (one question per reply at most)
    asks: Slot | None = None


@dataclass(frozen=True, slots=True)
class Handoff:
    reason: HandoffReason
    suggested_action: str
    account_id: str | None
    transcript: tuple[TurnRecord, ...]


@dataclass(frozen=True, slots=True)
class Turn:
    state: ConversationState
    reply: Reply | None
    events: tuple[DebtEvent | ChannelResponse, ...] = ()
    handoff: Handoff | None = None


def offer_terms(offer: Offer) -> tuple[dict[str, str], tuple[int, ...]]:
    """An offer's variables for its reply, and every amount they show."""

    def money(minor: int) -> str:
        return format_money(minor, offer.currency)

    variables = {
        "amount": money(offer.total_minor),
        "due_date": offer.due.isoformat(),
        "instalments": str(offer.instalments),
        "instalment": money(offer.instalment_minor),
        "last_instalment": money(offer.last_instalment_minor),
        "frequency": offer.frequency,
        "discount": money(offer.discount_minor),
        "balance": money(offer.total_minor + offer.discount_minor),
    }
    amounts = (
        offer.total_minor,
        offer.instalment_minor,
        offer.last_instalment_minor,
        offer.discount_minor,
        offer.total_minor + offer.discount_minor,
    )
    return variables, amounts


def negotiated_account(view: DebtorView, state: ConversationState | None) -> AccountView | None:
    """The account a conversation is about: the one it started on while open,
    else the open account with the most overdue (then balance, then id)."""
    open_accounts = [a for a in view.accounts if a.status in ("OPEN", "CURED")]
    if state is not None and state.account_id is not None:
        for account in open_accounts:
            if account.account_id == state.account_id:
                return account
    if not open_accounts:
        return None
    return max(open_accounts, key=lambda a: (a.overdue_minor, a.balance_minor, a.account_id))


def lapse(
    state: ConversationState, now: datetime, limits: Limits = DEFAULT_LIMITS
) -> ConversationState:
    """Silence: the state once an unanswered offer or question has lapsed."""
    due = deadline(state, limits)
    if due is None or to_ms(now) < due:
        return state
    return _closed(state)


def deadline(state: ConversationState, limits: Limits = DEFAULT_LIMITS) -> int | None:
    """When the offer or question the conversation waits on lapses (UTC ms)."""
    if state.status != "waiting" or state.last_outbound_at is None:
        return None
    offer = state.current_offer()
    if offer is not None:
        return offer.expires_at
    return state.last_outbound_at + int(limits.question_expires_after.total_seconds() * 1000)


#: Meta's customer service window: a free-form WhatsApp answer only this long
#: after the debtor's latest message
WHATSAPP_SERVICE_WINDOW: Final = timedelta(hours=24)


def answer_expires_at(
    state: ConversationState, channel: Channel, limits: Limits = DEFAULT_LIMITS
) -> int | None:
    """When an answer decided now must be gone (UTC ms), for the dispatch's
    ``expires_at``: the earliest of the offer's or question's lapse and, on
    WhatsApp, the end of the 24-hour service window; None when neither bounds it."""
    ends = [d for d in (deadline(state, limits),) if d is not None]
    if channel == "whatsapp" and state.last_inbound_at is not None:
        window = int(WHATSAPP_SERVICE_WINDOW.total_seconds() * 1000)
        ends.append(state.last_inbound_at + window)
    return min(ends) if ends else None


#: the reply that puts each kind of offer to the debtor again
OFFER_REPLIES: Final[Mapping[str, str]] = {
    "plan": "plan_offer",
    "promise": "promise_counter",
    "settlement": "settlement_offer",
}
#: replies about settling what is overdue: moot once nothing is
ABOUT_ARREARS: Final = frozenset(
    {
        "ask_promise_date",
        "promise_counter",
        "promise_confirmed",
        "ask_instalments",
        "plan_offer",
        "plan_counter",
        "plan_confirmed",
        "settlement_offer",
        "settlement_confirmed",
        "already_paid",
    }
)
#: replies still owed to the debtor after a person took over (``agent_reply``: theirs)
NOTICES: Final = frozenset(
    {"opt_out_confirmed", "wrong_person", "dispute_received", "handoff", "agent_reply"}
)


def silence_due(state: ConversationState, limits: Limits = DEFAULT_LIMITS) -> int | None:
    """When silence next acts (UTC ms): the one reminder, then the lapse."""
    due = deadline(state, limits)
    if due is None or state.reminded or state.last_outbound_at is None:
        return due
    waited = due - state.last_outbound_at
    return state.last_outbound_at + int(waited * limits.remind_at_share)


def on_silence(
    state: ConversationState,
    view: DebtorView,
    bounds: NegotiationBounds | Strategy | None,
    now: datetime,
    limits: Limits = DEFAULT_LIMITS,
) -> Turn:
    """Silence, as the worker's timer applies it: at :func:`silence_due` the
    first time, one reminder (the offer put again, or the question asked
    again, on the channel it went on); at the deadline, the lapse: the
    conversation closes and nothing is sent, so the contact strategy's
    cadence simply goes on. One reminder per message of the debtor, never a
    loop; none while an answer is still held for the hours."""
    due = deadline(state, limits)
    now_ms = to_ms(now)
    if due is None:
        return Turn(state, None)
    if now_ms >= due:
        return Turn(replace(_closed(state), held=None), None)
    remind = silence_due(state, limits)
    if state.reminded or state.held is not None or remind is None or now_ms < remind:
        return Turn(state, None)
    reply = _reminder(state, view, bounds, now)
    state = replace(state, reminded=True)
    if reply is None:
        return Turn(state, None)
    sent = TurnRecord("out", reply.channel, now_ms, None, None, None, (reply.template, "reminder"))
    return Turn(state.with_turn(sent), reply)


def _reminder(
    state: ConversationState,
    view: DebtorView,
    bounds: NegotiationBounds | Strategy | None,
    now: datetime,
) -> Reply | None:
    channel = next((t.channel for t in reversed(state.turns) if t.direction == "out"), None)
    if channel not in CHANNELS:
        return None
    on: Channel = channel
    offer = state.current_offer()
    if offer is not None:
        if offer.due < local_today(view, now):
            return None  # its date has passed: nothing left to accept
        variables, amounts = offer_terms(offer)
        template = OFFER_REPLIES[offer.kind]
        return Reply(template, variables, on, state.language, amounts, "offer_acceptance")
    account = negotiated_account(view, state)
    if account is None:
        return None
    if state.pending == "promise_date":
        shown = state.draft_minor if state.draft_minor is not None else owed(account)
        amount = format_money(shown, account.currency)
        return Reply(
            "ask_promise_date", {"amount": amount}, on, state.language, (shown,), "promise_date"
        )
    if state.pending == "plan_instalments":
        if isinstance(bounds, Strategy):
            bounds = bounds.bounds_for(account.bucket, view.risk_segment, view.country)
        if bounds is None:
            return None
        most = plan_terms(account, bounds, local_today(view, now), None)
        variables = {"max_instalments": str(most[0] if most else 1)}
        return Reply("ask_instalments", variables, on, state.language, asks="plan_instalments")
    return None


def answer_moot(state: ConversationState, held: HeldAnswer, view: DebtorView) -> str | None:
    """Why an answer held for the hours must not be sent when they allow it
    (a reason code), or None: a person took over, or the account it is
    about is closed, or owes nothing overdue any more when the answer
    negotiates arrears. (A newer message answered drops
    it when answered; an opt-out on its channel is the policy's to refuse.)"""
    if state.status == "handed_off" and held.template not in NOTICES:
        return "HANDED_OFF"
    account = next((a for a in view.accounts if a.account_id == held.account_id), None)
    if account is None or held.template in NOTICES:
        return None
    closed = account.status in ("PAID", "SETTLED", "WRITTEN_OFF")
    if closed or (held.template in ABOUT_ARREARS and account.overdue_minor == 0):
        return "DEBT_PAID"
    return None


def close_handoff(state: ConversationState) -> ConversationState:
    """A person closed the task: automatic replies resume with the next message."""
    return replace(_closed(state), handoff_reason=None)


def _closed(state: ConversationState) -> ConversationState:
    return replace(
        state,
        status="closed",
        pending=None,
        asked={},
        draft_minor=None,
        offers=(),
        not_understood=0,
    )


def respond(
    state: ConversationState | None,
    understanding: Understanding,
    view: DebtorView,
    bounds: NegotiationBounds | Strategy | None,
    now: datetime,
    channel: Channel,
    *,
    text: str | None = None,
    message_id: str | None = None,
    dispatch_id: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Turn:
    """Answer one inbound message. ``bounds`` is the segment's bounds, or the
    strategy to find them in for the negotiated account's segment;
    ``message_id`` the inbound message's id (a redelivery is answered once);
    ``dispatch_id`` the dispatch it answers, if known."""
    if state is None:
        state = ConversationState(debtor_id=view.debtor_id, language=understanding.language)
    if message_id is not None and message_id in state.seen:
        return Turn(state, None)  # a redelivery: answered already
    state = lapse(state, now, limits)
    # Without the message's own id, ids are unique but a redelivery is not recognised.
    key = message_id if message_id is not None else f"#{state.seq}@{to_ms(now)}"
    if state.status == "closed" or state.conversation_id is None:
        opened = f"{state.debtor_id}/{key}"
        state = replace(state, status="open", inbound=0, accepted=None, conversation_id=opened)
    state = replace(
        state,
        seq=state.seq + 1,
        seen=(*state.seen, key)[-MAX_SEEN:] if message_id is not None else state.seen,
        language=understanding.language,
        inbound=state.inbound + 1,
        last_inbound_at=to_ms(now),
        reminded=False,
    )
    account = negotiated_account(view, state)
    if isinstance(bounds, Strategy):
        bounds = (
            bounds.bounds_for(account.bucket, view.risk_segment, view.country)
            if account is not None
            else None
        )
    d = _Dialogue(
        state, understanding, view, account, bounds, now, channel, key, dispatch_id, limits
    )
    d.run()
    inbound = TurnRecord(
        direction="in",
        channel=channel,
        at=to_ms(now),
        text=text,
        intent=d.intent,
        confidence=understanding.confidence,
        caused=tuple(d.caused),
    )
    state = d.state.with_turn(inbound)
    if d.reply is not None:
        outbound = TurnRecord("out", channel, to_ms(now), None, None, None, (d.reply.template,))
        state = replace(state.with_turn(outbound), last_outbound_at=to_ms(now))
    handoff = None
    if d.handoff_reason is not None:
        handoff = Handoff(
            d.handoff_reason,
            SUGGESTED[d.handoff_reason],
            state.account_id,
            state.turns,
        )
    return Turn(state, d.reply, tuple(d.events), handoff)


def effective_intent(understanding: Understanding, limits: Limits) -> Intent:
    """The intent acted on: opt-out when in doubt, unknown below the confidence floor."""
    if understanding.intent == "opt_out" or any(
        intent == "opt_out" and p >= limits.opt_out_doubt
        for intent, p in understanding.alternatives
    ):
        return "opt_out"
    if understanding.confidence < limits.min_confidence:
        return "unknown"
    return understanding.intent


@dataclass(slots=True)
class _Dialogue:
    state: ConversationState
    understanding: Understanding
    view: DebtorView
    account: AccountView | None
    bounds: NegotiationBounds | None
    now: datetime
    channel: Channel
    key: str
    dispatch_id: str | None
    limits: Limits
    intent: Intent = "unknown"
    reply: Reply | None = None
    events: list[DebtEvent | ChannelResponse] = field(default_factory=list)
    caused: list[str] = field(default_factory=list)
    handoff_reason: HandoffReason | None = None

    # --- the rules -------------------------------------------------------------------

    def run(self) -> None:
        self.intent = intent = effective_intent(self.understanding, self.limits)
        if intent == "opt_out":
            return self.opt_out()
        if intent == "wrong_person":
            return self.wrong_person()
        if self.state.status == "handed_off":
            return None  # a person has it: no automatic reply
        flags = self.view.flags
        if flags.cease_and_desist or flags.bankruptcy or flags.deceased:
            return self.hand_off("restricted", None)
        if intent in HANDED_OFF:
            return self.handed_off_intent(HANDED_OFF[intent])
        if self.state.inbound > self.limits.max_turns:
            return self.hand_off("turn_limit")
        if self.account is None:
            if intent in ("ask_balance", "thanks_ack"):
                return self.say("nothing_owed", {})
            return self.hand_off("no_account")
        self.state = replace(self.state, account_id=self.account.account_id)
        # The answer to the question asked fills its slot, however the
        # message was classified ("el 15" alone may read as unknown).
        entities = self.understanding.entities
        if self.state.pending == "promise_date" and entities.dates:
            self.state = replace(self.state, not_understood=0)
            return self.promise()
        if self.state.pending == "plan_instalments" and entities.instalments:
            self.state = replace(self.state, not_understood=0)
            return self.plan()
        if intent == "unknown":
            return self.not_understood()
        self.state = replace(self.state, not_understood=0)
        offer = self.state.current_offer()
        if offer is not None and self.accepts(offer, intent):
            return self.accept(offer)
        if intent == "promise_to_pay":
            return self.promise()
        if intent in ("ask_plan", "cannot_pay_full"):
            return self.plan()
        if intent == "ask_balance":
            return self.balance()
        if intent == "pay_now":
            amount = owed(self.account)
            return self.say("pay_now", {"amount": self.money(amount)}, (amount,))
        if intent == "already_paid":
            if self.account.overdue_minor > 0:
                return self.hand_off("already_paid", "already_paid")
            return self.say("thanks", {})
        if intent == "thanks_ack":
            return self.slot_still_missing() if self.state.pending else self.close()
        return self.not_understood()  # pragma: no cover  (every intent is handled above)

    def accepts(self, offer: Offer, intent: Intent) -> bool:
        entities = self.understanding.entities
        if intent == "thanks_ack":
            return True
        if intent == "promise_to_pay" and offer.kind != "plan":
            return not entities.dates or entities.dates[0] == offer.due
        if intent in ("ask_plan", "cannot_pay_full") and offer.kind == "plan":
            return entities.instalments in (None, offer.instalments) and not entities.dates
        return False

    def opt_out(self) -> None:
        entities = self.understanding.entities
        scope = entities.opt_out_scope or "channel"
        # The channels the debtor named ("no me llamen": voice), else the one written from.
        named = entities.opt_out_channels
        channels: tuple[Channel, ...] = (
            CHANNELS
            if scope == "all"
            else tuple(c for c in CHANNELS if c in named) or (self.channel,)
        )
        for ch in channels:
            self.events.append(self.response(ch, "OPTED_OUT"))
            self.caused.append(f"OPTED_OUT:{ch}")
        was_handed_off = self.state.status == "handed_off"
        self.state = replace(
            _closed(self.state), status="handed_off" if was_handed_off else "closed"
        )
        if not was_handed_off:
            self.say("opt_out_confirmed", {"scope": scope})

    def wrong_person(self) -> None:
        written = next((c for c in self.view.channels if c.channel == self.channel), None)
        address = written.address if written is not None else None
        same = {
            c.channel for c in self.view.channels if address is not None and c.address == address
        } | {self.channel}
        for ch in sorted(same):
            status: ResponseStatus = "BOUNCED" if ch == "email" else "FAILED"
            self.events.append(self.response(ch, status, WRONG_PARTY))
            self.caused.append(f"INVALID:{ch}")
        was_handed_off = self.state.status == "handed_off"
        self.state = replace(
            _closed(self.state), status="handed_off" if was_handed_off else "closed"
        )
        if not was_handed_off:
            self.say("wrong_person", {})  # no name, no amount: it is not the debtor

    def handed_off_intent(self, reason: HandoffReason) -> None:
        if reason == "dispute" and self.account is not None:
            dispute_id = self.ref("dispute")
            self.events.append(
                self.debt_event(
                    "DISPUTE_OPENED",
                    DisputeOpened(
                        dispute_id=dispute_id,
                        reason=f"{self.intent} in a conversation on {self.channel}",
                    ),
                )
            )
            self.caused.append(f"DISPUTE_OPENED:{dispute_id}")
        template = {"dispute": "dispute_received", "abusive": None}.get(reason, "handoff")
        self.hand_off(reason, template)

    def hand_off(self, reason: HandoffReason, template: str | None = "handoff") -> None:
        self.handoff_reason = reason
        self.caused.append(f"HANDOFF:{reason}")
        account_id = self.account.account_id if self.account is not None else None
        self.state = replace(
            _closed(self.state), status="handed_off", handoff_reason=reason, account_id=account_id
        )
        if template is not None:
            self.say(template, {})

    def not_understood(self) -> None:
        count = self.state.not_understood + 1
        self.state = replace(self.state, not_understood=count)
        if count >= self.limits.max_not_understood:
            return self.hand_off("not_understood")
        if self.state.pending in ("promise_date", "plan_instalments"):
            return self.slot_still_missing()
        return self.say("clarify", {})

    def slot_still_missing(self) -> None:
        """The slot asked once is still missing: a concrete proposal, not a second question."""
        if self.state.pending == "promise_date":
            return self.promise()
        if self.state.pending == "plan_instalments":
            return self.plan()
        return self.say("clarify", {})

    def close(self) -> None:
        self.state = _closed(self.state)

    # --- negotiation -------------------------------------------------------------------

    def promise(self) -> None:
        account = self.need_account()
        if self.bounds is None:
            return self.hand_off("no_bounds")
        entities = self.understanding.entities
        amount = self.state.draft_minor
        if entities.amounts:
            amount = named_amount(entities.amounts[0], account)
        when: date | None = entities.dates[0] if entities.dates else None
        if when is None and not self.state.asked.get("promise_date"):
            shown = owed(account) if amount is None else amount
            self.state = replace(
                self.state,
                pending="promise_date",
                status="waiting",
                asked={**self.state.asked, "promise_date": 1},
                draft_minor=amount,
            )
            return self.say(
                "ask_promise_date", {"amount": self.money(shown)}, (shown,), asks="promise_date"
            )
        today = self.today()
        # Still no date after one question: propose the latest date allowed.
        value, day, adjusted = promise_terms(account, self.bounds, today, amount, when or date.max)
        offer = self.offer("promise", value, day)
        # An amount we could not read (another currency) is not agreed to silently.
        unread = bool(entities.amounts) and amount is None
        if adjusted or unread:
            return self.propose(offer, "promise_counter")
        return self.accept(offer)

    def plan(self) -> None:
        account = self.need_account()
        if self.bounds is None:
            return self.hand_off("no_bounds")
        if account.overdue_minor <= 0:
            return self.balance()
        today = self.today()
        requested = self.understanding.entities.instalments
        if requested is None and self.intent == "cannot_pay_full" and not self.state.pending:
            settlement = settlement_terms(account, self.bounds, today)
            if settlement is not None:
                amount, discount, by = settlement
                offer = self.offer("settlement", amount, by, discount=discount)
                return self.propose(offer, "settlement_offer")
        if (
            requested is None
            and self.bounds.max_instalments > 1
            and not self.state.asked.get("plan_instalments")
        ):
            self.state = replace(
                self.state,
                pending="plan_instalments",
                status="waiting",
                asked={**self.state.asked, "plan_instalments": 1},
            )
            most = plan_terms(account, self.bounds, today, None)
            return self.say(
                "ask_instalments",
                {"max_instalments": str(most[0] if most else 1)},
                asks="plan_instalments",
            )
        terms = plan_terms(account, self.bounds, today, requested)
        if terms is None:
            return self.balance()
        n, each, first = terms
        offer = self.offer("plan", account.overdue_minor, first, n, each)
        counter = requested is not None and requested != n
        self.propose(offer, "plan_counter" if counter else "plan_offer")

    def offer(
        self,
        kind: str,
        total: int,
        due: date,
        instalments: int = 1,
        each: int = 0,
        discount: int = 0,
    ) -> Offer:
        account, bounds = self.need_account(), self.bounds
        ttl_after = bounds.offer_expires_after if bounds is not None else timedelta(0)
        made = to_ms(self.now)
        ttl = int(ttl_after.total_seconds() * 1000)
        return Offer(
            offer_id=self.ref(f"offer-{len(self.state.offers)}"),
            kind=kind,  # type: ignore[arg-type]
            account_id=account.account_id,
            currency=account.currency,
            total_minor=total,
            due=due,
            instalments=instalments,
            instalment_minor=each or total,
            frequency=bounds.frequency if bounds is not None else "MONTHLY",
            discount_minor=discount,
            made_at=made,
            expires_at=made + ttl,
        )

    def propose(self, offer: Offer, template: str) -> None:
        self.state = replace(
            self.state,
            offers=(*self.state.offers, offer),
            pending="offer_acceptance",
            status="waiting",
        )
        self.caused.append(f"OFFER:{offer.offer_id}")
        self.say(template, *self.terms(offer))

    def accept(self, offer: Offer) -> None:
        kind, payload = agreement(offer, self.channel, self.dispatch_id, self.state.conversation_id)
        event = self.debt_event(kind, payload)
        if offer.kind == "plan":
            template = "plan_confirmed"
        else:
            template = "settlement_confirmed" if offer.kind == "settlement" else "promise_confirmed"
        self.events.append(event)
        self.caused.append(f"{event.type}:{offer.offer_id}")
        self.state = replace(_closed(self.state), accepted=offer.offer_id)
        self.say(template, *self.terms(offer))

    def terms(self, offer: Offer) -> tuple[dict[str, str], tuple[int, ...]]:
        return offer_terms(offer)

    def balance(self) -> None:
        a = self.need_account()
        variables = {
            "amount": self.money(a.overdue_minor),
            "balance": self.money(a.balance_minor),
            "days_past_due": str(a.days_past_due),
        }
        self.say("balance", variables, (a.overdue_minor, a.balance_minor))

    # --- helpers -----------------------------------------------------------------------

    def say(
        self,
        template: str,
        variables: Mapping[str, str],
        amounts: tuple[int, ...] = (),
        asks: Slot | None = None,
    ) -> None:
        self.reply = Reply(
            template, dict(variables), self.channel, self.understanding.language, amounts, asks
        )

    def today(self) -> date:
        return local_today(self.view, self.now)

    def money(self, minor: int) -> str:
        return format_money(minor, self.need_account().currency)

    def need_account(self) -> AccountView:
        if self.account is None:
            raise RuntimeError("the dialogue reached money talk without an account")
        return self.account

    def ref(self, what: str) -> str:
        """An id for something this message causes: the same on a redelivery."""
        name = f"{self.state.debtor_id}/{self.key}/{what}"
        return f"conv-{uuid.uuid5(CONVERSATION_NAMESPACE, name).hex[:20]}"

    def event_id(self) -> uuid.UUID:
        n = len(self.events)
        return uuid.uuid5(CONVERSATION_NAMESPACE, f"{self.state.debtor_id}/{self.key}/event/{n}")

    def debt_event(self, kind: str, payload: object) -> DebtEvent:
        account = self.need_account()
        return DebtEvent(
            event_id=self.event_id(),
            occurred_at=self.now,
            source=SOURCE,
            debtor_id=self.state.debtor_id,
            account_id=account.account_id,
            type=kind,
            payload=payload,
        )

    def response(
        self, channel: Channel, status: ResponseStatus, error: str | None = None
    ) -> ChannelResponse:
        return ChannelResponse(
            event_id=self.event_id(),
            occurred_at=self.now,
            source=SOURCE,
            debtor_id=self.state.debtor_id,
            channel=channel,
            status=status,
            provider=SOURCE,
            error_code=error,
            error_message="the person who answered is not the debtor" if error else None,
        )
