"""No dunning while a payment plan is current; its first missed instalment is
a broken promise and the promise_broken cadence takes over (pure: no Kafka)."""

from __future__ import annotations

from recaudo.contracts.records import DebtEvent, PromiseBroken
from recaudo.conversation import respond
from recaudo.orchestration import load_strategy
from recaudo.understanding.types import Entities, Understanding
from recaudo.view import snapshot
from tests.unit.orchestration.driver import Driver
from tests.unit.view.builders import DEBTOR, at, dpd, missed, opened, plan, profile


def stale_rules(d: Driver) -> list[str]:
    return [
        h.rule_id for x in d.decisions for h in x.rules_fired if h.reason_code == "STALE_TRIGGER"
    ]


def escalated() -> Driver:
    d = Driver()
    d.event(profile(-40))
    d.event(opened(-30))
    assert [c.template for c in d.event(dpd(35, when=0.1))] == ["arrears_escalation"]
    return d


def test_an_agreed_plan_ends_the_escalation_at_once() -> None:
    d = escalated()
    d.event(plan("PL-1", 0.5, first=7))
    assert stale_rules(d) == ["orchestration.stale.promise_pending"]
    assert not d.orch.runs
    d.advance(at(6.5))
    assert [c.template for c in d.dispatches] == ["arrears_escalation"]


def test_a_missed_payment_during_a_current_plan_contacts_nobody() -> None:
    d = escalated()
    d.event(plan("PL-1", 0.5, first=7))
    assert d.event(missed(3, 1, when=1.1)) == []
    assert stale_rules(d)[-1] == "orchestration.stale.promise_pending"


def test_a_missed_instalment_breaks_the_plan_and_dunning_resumes() -> None:
    d = escalated()
    d.event(plan("PL-1", 0.5, first=2))
    d.wake(at(3.6))  # instalment 1 (day 2) passed unpaid
    broken = [e.payload for e in d.derived if isinstance(e, DebtEvent)]
    assert [p.promise_id for p in broken if isinstance(p, PromiseBroken)] == ["PL-1#1"]
    # The promise_broken cadence runs (held by the preset's weekly cap, not as stale).
    (decision,) = [x for x in d.decisions if x.trigger == "promise_broken"]
    assert decision.outcome == "DEFERRED"
    assert "STALE_TRIGGER" not in [h.reason_code for h in decision.rules_fired]
    assert d.orch.runs


def test_a_plan_agreed_in_a_conversation_ends_the_escalation() -> None:
    d = escalated()
    assert d.state is not None
    view = snapshot(d.state, DEBTOR)
    turn = None
    for understanding in (
        Understanding("ask_plan", 0.95, Entities(instalments=2)),
        Understanding("thanks_ack", 0.95),
    ):
        turn = respond(
            turn.state if turn else None,
            understanding,
            view,
            load_strategy(),
            at(0.6),
            "sms",
            message_id=understanding.intent,
        )
    assert turn is not None
    (agreed,) = turn.events
    d.event(agreed)
    assert stale_rules(d) == ["orchestration.stale.promise_pending"]
    assert not d.orch.runs
