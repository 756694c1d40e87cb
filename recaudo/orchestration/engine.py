"""The orchestrator: from a debtor's view, its orchestration state, what just
happened and the time now, the contacts to make and the audit of every decision.

Pure, like the policy engine it calls: no Kafka, no clock (``now`` is given),
state updated in place. The stream processor calls :meth:`Orchestrator.handle`
after folding each event into the view, and again when the debtor's timer fires.

Guarantees, by construction:

* a trigger starts at most one run (runs are keyed by the trigger's event id,
  and finished keys are remembered); a run dispatches each (step, channel) at
  most once, so a ``dispatch_id`` (debtor, trigger, step, channel) never repeats;
* every dispatch passed :func:`recaudo.policy.evaluate` at the instant it was
  decided, with every earlier dispatch in the history it checked;
* a notice (account + template) sent on any channel is not sent again within
  the strategy's ``dedup_window``, except as its own step's fallback;
* a run about arrears ends, suppressed, once nothing is overdue on its account;
* a payment, settlement, cure or dispute ends at once the runs whose reason it
  removed and moves no other run: it is neither a response nor a failed
  contact, so no step and no fallback to the next channel comes sooner;
* no contact about the past: a trigger that no longer holds when it is read
  (:mod:`recaudo.orchestration.staleness`) starts no run, and a run whose
  trigger no longer holds when a step is due (or a payment, promise, plan or
  dispute arrives) ends; both are recorded as SUPPRESSED with ``STALE_TRIGGER`` and
  the rule that fired;
* a backfilled event (history, see :meth:`Orchestrator.handle`) starts no run;
* with a learner (:class:`~recaudo.orchestration.channel_choice.ContactLearner`),
  a debtor on its arm gets one of the actions the policy allows at their send
  instant, evaluated again when that instant comes (DEFERRED until then); any
  other debtor gets exactly what it would get without one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from recaudo.contracts.money import format_money
from recaudo.contracts.records import (
    AccountView,
    Bucket,
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    DebtorFlags,
    DebtorProfile,
    DebtorView,
    DispatchCommand,
    Event,
    LearningChoice,
    RuleHit,
)
from recaudo.orchestration.channel_choice import (
    ChannelChooser,
    ContactLearner,
    EngagementChooser,
    learning_key,
)
from recaudo.orchestration.ids import decision_id, dispatch_id
from recaudo.orchestration.staleness import (
    AMOUNT_FACT,
    AT_FACT,
    BUCKET_FACT,
    Trigger,
    stale_now,
    stale_on_arrival,
)
from recaudo.orchestration.state import Contact, OrchestrationState, Run
from recaudo.orchestration.strategy import Cadence, Step, Strategy, TriggerKind, arm_for
from recaudo.orchestration.templates import LinkMaker, NoOptOutMethod, TemplateError, Templates
from recaudo.policy import Candidate, DebtState, Flag, PolicyContext, RuleSet, evaluate
from recaudo.policy import Contact as PolicyContact
from recaudo.policy.presets import PRESETS
from recaudo.policy.suppression import DISPUTE_HIT
from recaudo.view import DebtorState, snapshot
from recaudo.view.contacts import is_opt_out
from recaudo.view.ledger import ledger_at
from recaudo.view.timebase import from_ms, to_ms

if TYPE_CHECKING:
    from recaudo.conversation.dialogue import Reply as ConversationReply

log = logging.getLogger(__name__)

SOURCE: Final = "recaudo.orchestrator"
DAY_MS: Final = 24 * 3600 * 1000
#: the least time a connector is given to send a dispatch inside the allowed
#: hours; a contact decided closer to the window's close waits for the next one
MIN_SEND: Final = timedelta(seconds=60)

#: responses that mean the contact reached the debtor (no fallback needed)
RESPONDED: Final = frozenset({"READ", "CLICKED", "REPLIED", "CALL_RIGHT_PARTY", "CALL_ANSWERED"})
FAILED: Final = frozenset({"FAILED", "BOUNCED", "EXPIRED", "CALL_NO_ANSWER"})
CONVERSATION: Final = frozenset({"REPLIED", "CALL_RIGHT_PARTY"})
#: events after which a run's account may no longer need collecting
SETTLING: Final = frozenset(
    {
        "PAYMENT_RECEIVED",
        "DEBT_SETTLED",
        "DEBT_WRITTEN_OFF",
        "DEBT_CURED",
        "DISPUTE_OPENED",
        "PROMISE_TO_PAY",
        "PAYMENT_PLAN_AGREED",
    }
)
#: reasons that rule out one channel, not the contact: try the next channel
CHANNEL_REASONS: Final = frozenset({"OPTED_OUT", "NO_CONSENT", "INVALID_ADDRESS"})
ARREARS_TRIGGERS: Final[frozenset[TriggerKind]] = frozenset(
    {"payment_missed", "bucket_changed", "promise_broken"}
)

NOTHING_OVERDUE = RuleHit(rule_id="orchestration.nothing_overdue", reason_code="DEBT_PAID")
DEBT_CLOSED = RuleHit(rule_id="orchestration.debt_closed", reason_code="DEBT_PAID")
DUPLICATE_NOTICE = RuleHit(rule_id="orchestration.notice_dedup", reason_code="DUPLICATE_NOTICE")
NO_CHANNEL = RuleHit(
    rule_id="orchestration.no_reachable_channel", reason_code="NO_REACHABLE_CHANNEL"
)
NO_RULESET = RuleHit(
    rule_id="orchestration.unknown_jurisdiction", reason_code="UNKNOWN_JURISDICTION"
)
NO_CADENCE = RuleHit(rule_id="orchestration.cadence_removed", reason_code="CADENCE_REMOVED")
TEMPLATE_BROKEN = RuleHit(rule_id="orchestration.template", reason_code="TEMPLATE_ERROR")
NO_OPT_OUT = RuleHit(rule_id="orchestration.opt_out_method", reason_code="NO_OPT_OUT_METHOD")
#: the cadence name and template prefix of the conversation's answers
ANSWER_CADENCE: Final = "conversation"
#: answers sent on an opted-out or invalidated address: the confirmation of
#: the opt-out and the apology to a wrong number (docs/policy.md)
COURTESY_REPLIES: Final = frozenset({"opt_out_confirmed", "wrong_person"})
ANSWER_EXPIRED = RuleHit(rule_id="conversation.answer_deadline", reason_code="ANSWER_EXPIRED")
DISPUTED = RuleHit(rule_id=DISPUTE_HIT.rule_id, reason_code=DISPUTE_HIT.reason_code)


@dataclass(slots=True)
class Outputs:
    decisions: list[ContactDecision] = field(default_factory=list)
    dispatches: list[DispatchCommand] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.decisions or self.dispatches)


def answer_key(message_id: str) -> str:
    """The run key of the answer to one inbound message (its dispatch id derives from it)."""
    return f"answer:{message_id}"


@dataclass(slots=True)
class _Debtor:
    """One debtor during one :meth:`Orchestrator.handle`: the view is built
    only when some run needs it, once."""

    state: DebtorState
    _view: DebtorView | None = None

    @property
    def view(self) -> DebtorView:
        if self._view is None:
            self._view = snapshot(self.state, self.state.debtor_id)
        return self._view

    def account(self, account_id: str) -> AccountView | None:
        for account in self.view.accounts:
            if account.account_id == account_id:
                return account
        return None


class Orchestrator:
    #: a dispatch's personal portal link ({{ portal_link }}); None: no link
    links: LinkMaker | None = None

    def __init__(
        self,
        strategy: Strategy,
        templates: Templates,
        *,
        rulesets: Mapping[str, RuleSet] = PRESETS,
        chooser: ChannelChooser | None = None,
        source: str = SOURCE,
        conversations: bool = False,
        learner: ContactLearner | None = None,
    ) -> None:
        templates.check(
            {
                (step.template, c.tone)
                for c in strategy.cadences
                for step in (*c.champion, *c.challenger)
            }
        )
        self.strategy = strategy
        self.templates = templates
        self.rulesets = rulesets
        silent = sorted(
            rules.id
            for rules in rulesets.values()
            if "email" in rules.requires_opt_out_text and not templates.offers_opt_out("email")
        )
        if silent:
            log.warning(
                "no email will be sent to debtors under %s: those rules require every email "
                "to say how to opt out and recaudo receives no email replies; set "
                "[opt_out] email_contact in the template file (RECAUDO_TEMPLATES_FILE) "
                "to your opt-out page or phone line",
                ", ".join(silent),
            )
        self.chooser: ChannelChooser = chooser or EngagementChooser()
        #: chooses instead of the static strategy for debtors on its arm
        self.learner = learner
        self.source = source
        #: replies are answered by the conversation (:meth:`answer`), not by
        #: the ``reply_received`` cadence
        self.conversations = conversations
        self.replies: Templates | None = None
        if conversations:
            from recaudo.conversation.replies import load_replies

            self.replies = load_replies()
            # The same opt-out contact as every other email recaudo sends.
            self.replies.email_opt_out = templates.email_opt_out

    # --- entry point ----------------------------------------------------------------

    def handle(
        self,
        orch: OrchestrationState,
        view: DebtorState,
        now: datetime,
        event: Event | None = None,
        derived: list[DebtEvent] | tuple[DebtEvent, ...] = (),
        *,
        backfill: bool = False,
    ) -> Outputs:
        """React to ``event`` (None for a timer) and the events the view derived
        from it, then act on every run that is due at ``now``.

        ``backfill``: ``event`` is history (``recaudo publish --backfill``, the
        ``recaudo-backfill`` header): it starts no run and makes no decision of
        its own, though a payment, promise or dispute in it still ends the runs
        whose reason it removed."""
        now_ms = to_ms(now)
        out = Outputs()
        debtor = _Debtor(view)
        for trigger_event in (event, *derived):
            if isinstance(trigger_event, DebtEvent):
                self._on_debt_event(orch, debtor, trigger_event, now_ms, out, backfill)
            elif isinstance(trigger_event, ChannelResponse):
                self._on_response(orch, debtor, trigger_event, now_ms, out, backfill)
            elif isinstance(trigger_event, DebtorProfile):
                for run in orch.runs.values():
                    if run.phase == "profile":
                        run.phase, run.due_at = "step", now_ms
        for run in sorted(orch.runs.values(), key=lambda r: (r.due_at, r.key)):
            if run.phase != "profile" and run.due_at <= now_ms:
                self._advance(orch, debtor, run, now_ms, out)
        orch.trim(now_ms)
        return out

    # --- answers to a debtor's message ---------------------------------------------------

    def answer(
        self,
        orch: OrchestrationState,
        view: DebtorState,
        now: datetime,
        reply: ConversationReply,
        message: ChannelResponse,
        account_id: str | None,
        expires_at: int | None,
    ) -> Outputs:
        """The dispatch of the conversation's answer to ``message``, under the
        debtor's rule set (docs/policy.md, "Answers to a debtor's message"):
        on the channel written from, never another; hours and suppressions
        apply, frequency caps and cooldowns do not (the history is left out of
        the evaluation; the answer is still recorded in it); the dispatch id
        comes from the message's event id, so a redelivery is answered once.
        An answer the hours refuse now is DEFERRED (see :meth:`send_answer`)."""
        return self.send_answer(
            orch,
            view,
            now,
            reply,
            answer_key(str(message.event_id)),
            str(message.event_id),
            message.dispatch_id,
            account_id,
            expires_at,
        )

    def send_answer(
        self,
        orch: OrchestrationState,
        view: DebtorState,
        now: datetime,
        reply: ConversationReply,
        key: str,
        trigger_event_id: str | None,
        answers_dispatch: str | None,
        account_id: str | None,
        expires_at: int | None,
        *,
        caps: bool = False,
    ) -> Outputs:
        """One answer of the conversation under ``key`` (its dispatch id comes
        from it: sent at most once). Outside the hours it is DEFERRED to the
        next window, the decision's ``not_before`` (the key stays open, and
        the caller holds the answer and calls again then), unless that window
        opens after ``expires_at``: then, and on any other refusal, it is
        SUPPRESSED for good. ``caps``: the contact history counts (a reminder
        the dialogue sends of its own, not an answer to a message)."""
        now_ms = to_ms(now)
        out = Outputs()
        if orch.knows(key):
            return out
        debtor = _Debtor(view)
        account = account_id or self._account_of(orch, answers_dispatch, debtor) or ""
        run = Run(
            key=key,
            trigger="reply_received",
            account_id=account,
            trigger_event_id=trigger_event_id,
            cadence=ANSWER_CADENCE,
            arm="champion",
            started_at=now_ms,
            due_at=now_ms,
        )
        channel = reply.channel
        info = debtor.view
        rules = self.rulesets.get(info.jurisdiction) if info.jurisdiction is not None else None
        if info.time_zone is None or info.country is None or rules is None:
            self._decide(out, debtor, run, "SUPPRESSED", now_ms, channel, None, [NO_RULESET])
            orch.finish(key)
            return out
        ctx = self._context(orch, debtor)
        if not caps:
            ctx = replace(ctx, history=())
        courtesy = reply.template in COURTESY_REPLIES
        if courtesy:
            # The confirmation of an opt-out just received, or the apology
            # to a wrong number: sent on the address written from.
            ctx = replace(
                ctx,
                opted_out=ctx.opted_out - {channel},
                valid_addresses=ctx.valid_addresses | {channel},
            )
        candidate = Candidate(info.debtor_id, account, channel, "reply_received", 0)
        decision = evaluate(ctx, candidate, now, rules, min_send=MIN_SEND)
        hits = [RuleHit(rule_id=h.rule_id, reason_code=h.reason_code) for h in decision.rules_fired]
        if decision.outcome == "DEFER" and decision.not_before is not None:
            not_before = to_ms(decision.not_before)
            if expires_at is None or not_before + _ms(MIN_SEND) < expires_at:
                self._decide(out, debtor, run, "DEFERRED", now_ms, channel, None, hits, not_before)
                return out
            hits.append(ANSWER_EXPIRED)
        if decision.outcome != "DISPATCH":
            self._decide(out, debtor, run, "SUPPRESSED", now_ms, channel, None, hits)
            orch.finish(key)
            return out
        if expires_at is not None and expires_at <= now_ms + _ms(MIN_SEND):
            self._decide(out, debtor, run, "SUPPRESSED", now_ms, channel, None, [ANSWER_EXPIRED])
            orch.finish(key)
            return out
        opt_out = decision.requires_opt_out_text and not courtesy
        address = next((c.address for c in info.channels if c.channel == channel), None)
        assert self.replies is not None, "Orchestrator(conversations=True) answers replies"
        try:
            rendered = self.replies.render(
                reply.template,
                tone="neutral",
                locale=reply.language,
                channel=channel,
                variables=reply.variables,
                opt_out=opt_out,
            )
        except TemplateError as exc:
            log.error("cannot render reply %s for %s: %s", reply.template, key, exc)
            hit = NO_OPT_OUT if isinstance(exc, NoOptOutMethod) else TEMPLATE_BROKEN
            self._decide(out, debtor, run, "SUPPRESSED", now_ms, channel, None, [hit])
            orch.finish(key)
            return out
        expires = now_ms + _ms(self.strategy.expiry)
        for bound in (expires_at, decision.window_closes_at):
            if bound is not None:
                expires = min(expires, bound if isinstance(bound, int) else to_ms(bound))
        did = dispatch_id(info.debtor_id, key, 0, channel)
        command = DispatchCommand(
            event_id=decision_id(info.debtor_id, key, 0, f"dispatch:{channel}"),
            occurred_at=now,
            source=self.source,
            debtor_id=info.debtor_id,
            dispatch_id=did,
            account_id=account or None,
            channel=channel,
            address=address or "",
            template=f"{ANSWER_CADENCE}.{reply.template}",
            locale=rendered.language,
            subject=rendered.subject,
            body=rendered.body,
            variables=dict(reply.variables),
            not_before=now,
            expires_at=from_ms(expires),
            trigger="reply_received",
            step=0,
            strategy=self.strategy.id,
            arm="champion",
        )
        out.dispatches.append(command)
        self._decide(out, debtor, run, "DISPATCHED", now_ms, channel, did, hits)
        orch.contacts.append(Contact(now_ms, channel, account, did))
        orch.finish(key)
        return out

    def drop_answer(
        self,
        orch: OrchestrationState,
        view: DebtorState,
        now: datetime,
        key: str,
        trigger_event_id: str | None,
        channel: str,
        account_id: str | None,
        reason_code: str,
    ) -> Outputs:
        """A held answer that something newer made moot: recorded SUPPRESSED
        with ``reason_code`` (rule ``conversation.answer_moot``), never sent."""
        out = Outputs()
        if orch.knows(key):
            return out
        now_ms = to_ms(now)
        run = Run(
            key=key,
            trigger="reply_received",
            account_id=account_id or "",
            trigger_event_id=trigger_event_id,
            cadence=ANSWER_CADENCE,
            arm="champion",
            started_at=now_ms,
            due_at=now_ms,
        )
        hit = RuleHit(rule_id="conversation.answer_moot", reason_code=reason_code)
        self._decide(out, _Debtor(view), run, "SUPPRESSED", now_ms, channel, None, [hit])
        orch.finish(key)
        return out

    # --- triggers and responses -------------------------------------------------------

    def _on_debt_event(
        self,
        orch: OrchestrationState,
        debtor: _Debtor,
        event: DebtEvent,
        now_ms: int,
        out: Outputs,
        backfill: bool = False,
    ) -> None:
        p = event.payload
        facts: dict[str, str] = {AT_FACT: str(to_ms(event.occurred_at))}
        start = now_ms
        trigger: TriggerKind
        if event.type == "INSTALMENT_DUE":
            trigger = "instalment_due"
            facts["due_date"] = p.due_date.isoformat()  # type: ignore[union-attr]
            facts[AMOUNT_FACT] = str(p.amount_minor)  # type: ignore[union-attr]
        elif event.type == "PAYMENT_MISSED":
            trigger = "payment_missed"
            facts["due_date"] = p.due_date.isoformat()  # type: ignore[union-attr]
            facts[AMOUNT_FACT] = str(p.amount_minor)  # type: ignore[union-attr]
        elif event.type == "BUCKET_CHANGED":
            trigger = "bucket_changed"
            facts[BUCKET_FACT] = p.to_bucket  # type: ignore[union-attr]
        elif event.type == "PROMISE_BROKEN":
            trigger = "promise_broken"
            facts["promised_date"] = p.promised_date.isoformat()  # type: ignore[union-attr]
        else:
            if event.type in SETTLING:
                self._recheck(orch, debtor, event.account_id, now_ms, out)
            return
        key = f"{trigger}:{event.event_id}"
        if backfill or orch.knows(key):
            return
        account = debtor.account(event.account_id)
        bucket = account.bucket if account is not None else "CURRENT"
        cadence = self.strategy.cadence_for(trigger, bucket, debtor.view.risk_segment)
        if cadence is None:
            return
        if trigger == "instalment_due":
            due_day_ms = to_ms(datetime.fromisoformat(facts["due_date"] + "T00:00:00+00:00"))
            start = due_day_ms - cadence.days_before * DAY_MS
        # Steps count from when the orchestrator learns of the trigger (a
        # backlog replayed late must not fire every step at once), or from
        # the reminder date when that is still ahead.
        run = self._start(
            orch,
            debtor,
            cadence,
            key,
            trigger,
            event.account_id,
            str(event.event_id),
            max(start, now_ms),
            facts,
        )
        self._refuse_stale(orch, debtor, run, now_ms, out)

    def _on_response(
        self,
        orch: OrchestrationState,
        debtor: _Debtor,
        event: ChannelResponse,
        now_ms: int,
        out: Outputs,
        backfill: bool = False,
    ) -> None:
        if event.dispatch_id is not None:
            if event.status in CONVERSATION:
                for contact in orch.contacts:
                    if contact.dispatch_id == event.dispatch_id:
                        contact.conversation = True
            for run in orch.runs.values():
                if run.inflight != event.dispatch_id or run.phase != "await":
                    continue
                if event.status in RESPONDED:
                    run.responded = True
                    run.due_at = now_ms
                elif event.status in FAILED:
                    run.due_at = now_ms
        if event.status == "REPLIED" and not self.conversations and not is_opt_out(event.text):
            key = f"reply_received:{event.event_id}"
            if backfill or orch.knows(key):
                return
            account_id = self._account_of(orch, event.dispatch_id, debtor)
            if account_id is None:
                return
            account = debtor.account(account_id)
            bucket = account.bucket if account is not None else "CURRENT"
            cadence = self.strategy.cadence_for("reply_received", bucket, debtor.view.risk_segment)
            if cadence is not None:
                run = self._start(
                    orch,
                    debtor,
                    cadence,
                    key,
                    "reply_received",
                    account_id,
                    str(event.event_id),
                    now_ms,
                    {AT_FACT: str(to_ms(event.occurred_at))},
                )
                self._refuse_stale(orch, debtor, run, now_ms, out)

    def _recheck(
        self,
        orch: OrchestrationState,
        debtor: _Debtor,
        account_id: str,
        now_ms: int,
        out: Outputs,
    ) -> None:
        """End, now, each run on the account whose reason is gone; leave the
        others exactly as they were: a payment is neither a response nor a
        failed contact, so it must not bring a step or a fallback forward."""
        for run in [r for r in orch.runs.values() if r.account_id == account_id]:
            ended = (
                self._closed(run, debtor)
                or self._disputed(run, debtor)
                or self._stale(run, debtor, now_ms)
            )
            if ended is not None:
                self._end(orch, debtor, run, now_ms, out, ended)

    def _refuse_stale(
        self, orch: OrchestrationState, debtor: _Debtor, run: Run, now_ms: int, out: Outputs
    ) -> None:
        """End a run just started whose trigger did not hold when it was read."""
        hit = stale_on_arrival(
            _trigger_of(run),
            debtor.view,
            from_ms(now_ms),
            self.strategy.stale_after,
            _bucket_at(debtor, run, now_ms),
        )
        if hit is not None:
            self._end(orch, debtor, run, now_ms, out, hit)

    def _stale(self, run: Run, debtor: _Debtor, now_ms: int) -> RuleHit | None:
        return stale_now(
            _trigger_of(run),
            debtor.view,
            from_ms(now_ms),
            _bucket_at(debtor, run, now_ms),
        )

    def _account_of(
        self, orch: OrchestrationState, dispatch: str | None, debtor: _Debtor
    ) -> str | None:
        for contact in orch.contacts:
            if contact.dispatch_id == dispatch:
                return contact.account_id
        open_accounts = [a.account_id for a in debtor.view.accounts if a.overdue_minor > 0]
        return open_accounts[0] if open_accounts else None

    def _start(
        self,
        orch: OrchestrationState,
        debtor: _Debtor,
        cadence: Cadence,
        key: str,
        trigger: TriggerKind,
        account_id: str,
        trigger_event_id: str,
        start: int,
        facts: dict[str, str],
    ) -> Run:
        arm = arm_for(debtor.state.debtor_id, cadence)
        first = cadence.steps(arm)[0]
        run = orch.runs[key] = Run(
            key=key,
            trigger=trigger,
            account_id=account_id,
            trigger_event_id=trigger_event_id,
            cadence=cadence.id,
            arm=arm,
            started_at=start,
            due_at=start + _ms(first.offset),
            facts=facts,
        )
        return run

    # --- acting on a run ------------------------------------------------------------------

    def _advance(
        self, orch: OrchestrationState, debtor: _Debtor, run: Run, now_ms: int, out: Outputs
    ) -> None:
        cadence = self.strategy.cadence(run.cadence)
        if cadence is None:
            self._end(orch, debtor, run, now_ms, out, NO_CADENCE)
            return
        steps = cadence.steps(run.arm)
        while run.key in orch.runs and run.due_at <= now_ms and run.phase != "profile":
            if run.step >= len(steps):
                orch.finish(run.key)
                return
            step = steps[run.step]
            if run.phase == "await":
                if run.responded or run.channel_idx >= len(run.order):
                    self._next_step(orch, run, steps)
                else:
                    run.phase, run.inflight = "step", None
                continue
            self._try_step(orch, debtor, cadence, run, step, steps, now_ms, out)

    def _try_step(
        self,
        orch: OrchestrationState,
        debtor: _Debtor,
        cadence: Cadence,
        run: Run,
        step: Step,
        steps: tuple[Step, ...],
        now_ms: int,
        out: Outputs,
    ) -> None:
        view = debtor.view
        if view.time_zone is None or view.jurisdiction is None or view.country is None:
            run.phase = "profile"  # until a profile says where and when
            return
        closed = self._closed(run, debtor) or self._stale(run, debtor, now_ms)
        if closed is not None:
            self._end(orch, debtor, run, now_ms, out, closed)
            return
        rules = self.rulesets.get(view.jurisdiction)
        if rules is None:
            self._end(orch, debtor, run, now_ms, out, NO_RULESET)
            return
        notice = f"{run.account_id}|{step.template}"
        sent_at = orch.notices.get(notice)
        if (
            run.channel_idx == 0
            and sent_at is not None
            and now_ms - sent_at < _ms(self.strategy.dedup_window)
        ):
            self._decide(out, debtor, run, "SUPPRESSED", now_ms, None, None, [DUPLICATE_NOTICE])
            self._next_step(orch, run, steps)
            return
        arm = self.learner.arm(view) if self.learner is not None else None
        if run.learned is not None and arm != "learner":
            # Switched off (or off the learner arm) since it chose: static from here.
            run.order, run.channel_idx, run.variant, run.learned = [], 0, None, None
        fresh = run.channel_idx == 0 and not run.order
        if fresh and arm == "learner" and self._learn(orch, debtor, run, step, rules, now_ms, out):
            return
        if run.channel_idx == 0 and not run.order:
            run.order = self.chooser.order(step.channels, view, debtor.state.engagement())
            if not run.order:
                self._decide(out, debtor, run, "SUPPRESSED", now_ms, None, None, [NO_CHANNEL])
                self._next_step(orch, run, steps)
                return
        ctx = self._context(orch, debtor)
        now = from_ms(now_ms)
        while run.channel_idx < len(run.order):
            channel = run.order[run.channel_idx]
            candidate = Candidate(view.debtor_id, run.account_id, channel, run.trigger, run.step)
            decision = evaluate(ctx, candidate, now, rules, min_send=MIN_SEND)
            hits = [
                RuleHit(rule_id=h.rule_id, reason_code=h.reason_code) for h in decision.rules_fired
            ]
            if decision.outcome == "DEFER":
                assert decision.not_before is not None
                run.due_at = to_ms(decision.not_before)
                if run.due_at != run.deferred_until:
                    run.deferred_until = run.due_at
                    self._decide(
                        out,
                        debtor,
                        run,
                        "DEFERRED",
                        now_ms,
                        channel,
                        None,
                        hits,
                        not_before=run.due_at,
                    )
                return
            if decision.outcome == "SUPPRESS":
                self._decide(out, debtor, run, "SUPPRESSED", now_ms, channel, None, hits)
                if not set(decision.reason_codes) <= CHANNEL_REASONS:
                    orch.finish(run.key)
                    return
                run.channel_idx += 1
                continue
            if decision.requires_opt_out_text and not self.templates.offers_opt_out(channel):
                self._decide(out, debtor, run, "SUPPRESSED", now_ms, channel, None, [NO_OPT_OUT])
                run.channel_idx += 1
                continue
            try:
                command = self._dispatch(
                    debtor,
                    cadence,
                    run,
                    step,
                    channel,
                    now_ms,
                    decision.window_closes_at,
                    decision.requires_opt_out_text,
                )
            except TemplateError as exc:
                log.error("cannot render %s for run %s: %s", step.template, run.key, exc)
                self._decide(
                    out, debtor, run, "SUPPRESSED", now_ms, channel, None, [TEMPLATE_BROKEN]
                )
                run.channel_idx += 1
                continue
            out.dispatches.append(command)
            self._decide(out, debtor, run, "DISPATCHED", now_ms, channel, command.dispatch_id, hits)
            orch.contacts.append(Contact(now_ms, channel, run.account_id, command.dispatch_id))
            orch.notices[notice] = now_ms
            run.channel_idx += 1
            run.inflight, run.responded = command.dispatch_id, False
            if step.fallback_after is not None and run.channel_idx < len(run.order):
                run.phase, run.due_at = "await", now_ms + _ms(step.fallback_after)
            else:
                self._next_step(orch, run, steps)
            return
        self._next_step(orch, run, steps)

    def _learn(
        self,
        orch: OrchestrationState,
        debtor: _Debtor,
        run: Run,
        step: Step,
        rules: RuleSet,
        now_ms: int,
        out: Outputs,
    ) -> bool:
        """Let the learner choose this step's contact; True when it waits
        for its send instant (recorded as DEFERRED, re-checked then)."""
        assert self.learner is not None
        tried = [
            c.channel
            for c in orch.contacts
            if c.account_id == run.account_id and c.at >= run.started_at
        ]
        # A channel whose required opt-out text cannot be written is never sent.
        channels = [
            ch
            for ch in step.channels
            if ch not in rules.requires_opt_out_text or self.templates.offers_opt_out(ch)
        ]
        learned = self.learner.choose(
            learning_key(debtor.state.debtor_id, run.trigger_event_id, run.step),
            debtor.view,
            run.account_id,
            run.trigger,
            run.step,
            channels,
            tried,
            self._context(orch, debtor),
            rules,
            from_ms(now_ms),
        )
        if learned is None:
            return False
        run.order, run.variant = [learned.channel], learned.variant
        run.learned = learned.record.model_dump(mode="json")
        send_ms = to_ms(learned.send_at)
        if send_ms <= now_ms:
            return False
        run.due_at = run.deferred_until = send_ms
        self._decide(
            out, debtor, run, "DEFERRED", now_ms, learned.channel, None, [], not_before=send_ms
        )
        return True

    def _next_step(self, orch: OrchestrationState, run: Run, steps: tuple[Step, ...]) -> None:
        run.step += 1
        run.phase, run.order, run.channel_idx = "step", [], 0
        run.variant, run.learned = None, None
        run.inflight, run.responded, run.deferred_until = None, False, 0
        if run.step >= len(steps):
            orch.finish(run.key)
        else:
            run.due_at = max(run.due_at, run.started_at + _ms(steps[run.step].offset))

    def _closed(self, run: Run, debtor: _Debtor) -> RuleHit | None:
        account = debtor.account(run.account_id)
        if account is None:
            return None
        if account.status in ("PAID", "SETTLED", "WRITTEN_OFF"):
            return DEBT_CLOSED
        if run.trigger in ARREARS_TRIGGERS and (
            account.overdue_minor == 0 or account.status == "CURED"
        ):
            return NOTHING_OVERDUE
        return None

    def _disputed(self, run: Run, debtor: _Debtor) -> RuleHit | None:
        open_dispute = any(
            d.account_id == run.account_id and d.status == "OPEN" for d in debtor.view.disputes
        )
        return DISPUTED if open_dispute else None

    def _end(
        self,
        orch: OrchestrationState,
        debtor: _Debtor,
        run: Run,
        now_ms: int,
        out: Outputs,
        hit: RuleHit,
    ) -> None:
        self._decide(out, debtor, run, "SUPPRESSED", now_ms, None, None, [hit])
        orch.finish(run.key)

    # --- building records -------------------------------------------------------------------

    def _context(self, orch: OrchestrationState, debtor: _Debtor) -> PolicyContext:
        view = debtor.view
        assert view.time_zone is not None and view.country is not None
        assert view.jurisdiction is not None
        disputed = {d.account_id for d in view.disputes if d.status == "OPEN"}
        status_map = {"PAID": "paid", "SETTLED": "settled", "WRITTEN_OFF": "written_off"}
        return PolicyContext(
            time_zone=view.time_zone,
            country=view.country,
            jurisdiction=view.jurisdiction,
            flags=_flags(view.flags),
            debts={
                a.account_id: DebtState(
                    status=status_map.get(a.status, "open"),  # type: ignore[arg-type]
                    dispute_open=a.account_id in disputed,
                )
                for a in view.accounts
            },
            opted_out=frozenset(c.channel for c in view.channels if c.opted_out),
            consent=frozenset(c.channel for c in view.channels if c.consent),
            valid_addresses=frozenset(c.channel for c in view.channels if c.valid and c.address),
            history=tuple(
                PolicyContact(from_ms(c.at), c.channel, c.account_id, c.conversation)
                for c in orch.contacts
            ),
        )

    def _dispatch(
        self,
        debtor: _Debtor,
        cadence: Cadence,
        run: Run,
        step: Step,
        channel: str,
        now_ms: int,
        window_closes_at: datetime | None,
        opt_out: bool,
    ) -> DispatchCommand:
        view = debtor.view
        address = next(c.address for c in view.channels if c.channel == channel)
        variables = self._variables(debtor, run)
        did = dispatch_id(view.debtor_id, run.key, run.step, channel)  # type: ignore[arg-type]
        if self.links is not None:
            variables["portal_link"] = self.links(
                view.debtor_id, did, channel, run.account_id, now_ms
            )
        rendered = self.templates.render(
            step.template,
            tone=run.variant or cadence.tone,
            locale=view.language,
            channel=channel,  # type: ignore[arg-type]
            variables=variables,
            opt_out=opt_out,
        )
        # Never past the close: the policy left at least MIN_SEND before it.
        expires = now_ms + _ms(self.strategy.expiry)
        if window_closes_at is not None:
            expires = min(expires, to_ms(window_closes_at))
        return DispatchCommand(
            event_id=decision_id(view.debtor_id, run.key, run.step, f"dispatch:{channel}"),
            occurred_at=from_ms(now_ms),
            source=self.source,
            debtor_id=view.debtor_id,
            dispatch_id=did,
            account_id=run.account_id,
            channel=channel,
            address=address or "",
            template=step.template,
            locale=rendered.language,
            subject=rendered.subject,
            body=rendered.body,
            variables=variables,
            not_before=from_ms(now_ms),
            expires_at=from_ms(expires),
            trigger=run.trigger,
            step=run.step,
            strategy=self.strategy.id,
            arm=run.arm,
        )

    def _variables(self, debtor: _Debtor, run: Run) -> dict[str, str]:
        account = debtor.account(run.account_id)
        out = {
            "account_ref": "****" + run.account_id[-4:],
            "amount": "",
            "balance": "",
            "days_past_due": "0",
            "due_date": run.facts.get("due_date", ""),
            "promised_date": run.facts.get("promised_date", ""),
        }
        if account is not None:
            owed = account.overdue_minor or account.next_due_minor or account.balance_minor
            out["amount"] = format_money(owed, account.currency)
            out["balance"] = format_money(account.balance_minor, account.currency)
            out["days_past_due"] = str(account.days_past_due)
            if not out["due_date"] and account.next_due_date is not None:
                out["due_date"] = account.next_due_date.isoformat()
        return out

    def _decide(
        self,
        out: Outputs,
        debtor: _Debtor,
        run: Run,
        outcome: str,
        now_ms: int,
        channel: str | None,
        dispatch: str | None,
        hits: list[RuleHit],
        not_before: int | None = None,
    ) -> None:
        debtor_id = debtor.state.debtor_id
        what = f"{outcome}:{channel}:{not_before}:{','.join(h.reason_code for h in hits)}"
        learning: LearningChoice | None = None
        if run.learned is not None:
            learning = LearningChoice.model_validate(run.learned)
        elif self.learner is not None and (arm := self.learner.arm(debtor.view)) is not None:
            learning = LearningChoice(arm=arm)
        out.decisions.append(
            ContactDecision(
                event_id=decision_id(debtor_id, run.key, run.step, what),
                occurred_at=from_ms(now_ms),
                source=self.source,
                debtor_id=debtor_id,
                account_id=run.account_id,
                trigger=run.trigger,
                trigger_event_id=run.trigger_event_id,
                step=run.step,
                channel=channel,
                outcome=outcome,
                dispatch_id=dispatch,
                not_before=from_ms(not_before) if not_before is not None else None,
                rules_fired=hits,
                strategy=self.strategy.id,
                arm=run.arm,
                learning=learning,
            )
        )


def _trigger_of(run: Run) -> Trigger:
    at = run.facts.get(AT_FACT)
    return Trigger(run.trigger, run.account_id, int(at) if at else None, run.facts)


def _bucket_at(debtor: _Debtor, run: Run, now_ms: int) -> Bucket | None:
    """The account's bucket at ``now`` (the view's is as of its last event),
    for an escalation only: the one rule that reads it."""
    if run.trigger != "bucket_changed":
        return None
    facts = debtor.state.accounts.get(run.account_id)
    if facts is None or not facts.currency:
        return None
    return ledger_at(facts, max(now_ms, debtor.state.clock)).bucket


def _flags(flags: DebtorFlags) -> frozenset[Flag]:
    found: list[Flag] = []
    if flags.deceased:
        found.append("deceased")
    if flags.bankruptcy:
        found.append("bankruptcy")
    if flags.cease_and_desist:
        found.append("cease_and_desist")
    if flags.vulnerable:
        found.append("vulnerable")
    return frozenset(found)


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)
