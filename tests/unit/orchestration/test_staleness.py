"""No contact about the past: each staleness rule, backfilled history, and the
README's examples replayed weeks after they happened (pure: no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaudo.contracts.bank_files import EventFile, RowError
from recaudo.contracts.records import Event
from recaudo.view.ledger import Ledger, ledger_at
from tests.unit.orchestration.driver import Driver
from tests.unit.view.builders import (
    at,
    day,
    dpd,
    instalment_due,
    missed,
    opened,
    paid,
    profile,
    promise,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
BOGOTA = ZoneInfo("America/Bogota")


def fired(d: Driver) -> list[tuple[str, str]]:
    return [(h.rule_id, h.reason_code) for x in d.decisions for h in x.rules_fired]


def stale_rules(d: Driver) -> list[str]:
    return [rule for rule, code in fired(d) if code == "STALE_TRIGGER"]


def debtor() -> Driver:
    d = Driver()
    d.event(profile(-40))
    d.event(opened(-30))
    return d


# --- an instalment reminder after its due date --------------------------------------


def test_a_reminder_read_after_its_due_date_is_suppressed_as_stale() -> None:
    d = debtor()
    assert d.event(instalment_due(1, due=5, when=1), now=at(8)) == []
    assert [x.outcome for x in d.decisions] == ["SUPPRESSED"]
    assert stale_rules(d) == ["orchestration.stale.due_date_passed"]
    assert not d.orch.runs


def test_a_reminder_read_before_its_due_date_is_sent() -> None:
    d = debtor()
    sent = d.event(instalment_due(1, due=7, when=1), now=at(5))  # Tuesday, 07:00 in Bogota
    assert [c.template for c in sent] == ["instalment_reminder"]
    assert sent[0].variables["due_date"] == day(7).isoformat()


# --- a missed payment followed, in event time, by a payment --------------------------


def test_a_missed_payment_paid_since_starts_no_contact_though_older_arrears_remain() -> None:
    d = Driver()
    d.event(profile(-40))
    d.event(opened(-30, dpd=20))  # arrears from before: still overdue after the payment
    d.event(paid("p1", 0.5, amount=10_000))
    # The missed instalment arrives after the payment that covered it.
    assert d.event(missed(2, 0, when=0.1), now=at(1)) == []
    assert "orchestration.stale.paid_since" in stale_rules(d)
    assert d.state is not None and any(a.overdue for a in _ledgers(d))


def test_a_partial_payment_after_a_missed_payment_does_not_make_it_stale() -> None:
    d = Driver()
    d.event(profile(-40))
    d.event(opened(-30, dpd=20))
    d.event(paid("p1", 0.5, amount=4_000))
    assert len(d.event(missed(2, 0, when=0.1), now=at(1))) == 1
    assert "orchestration.stale.paid_since" not in stale_rules(d)


# --- a trigger read long after it happened -------------------------------------------


def test_a_missed_payment_read_after_stale_after_is_suppressed() -> None:
    d = debtor()
    assert d.event(missed(1, 4, when=4.1), now=at(7.2)) == []
    assert stale_rules(d) == ["orchestration.stale.too_old"]


def test_a_missed_payment_read_within_stale_after_is_sent() -> None:
    d = debtor()
    # Read 2.9 days later, on Thursday at 07:00 in Bogota.
    assert len(d.event(missed(1, 4, when=4.1), now=at(7))) == 1


# --- a step whose reason no longer holds -----------------------------------------------


def test_a_promise_to_pay_ends_the_escalation_before_its_follow_up() -> None:
    d = debtor()
    first = d.event(dpd(35, when=0.1))
    assert [c.template for c in first] == ["arrears_escalation"]
    d.event(promise("P-1", 0.5, by=10))
    assert stale_rules(d) == ["orchestration.stale.promise_pending"]
    d.advance(at(9))
    assert [c.template for c in d.dispatches] == ["arrears_escalation"]


def test_an_escalation_follow_up_for_a_bucket_the_account_has_left_is_not_sent() -> None:
    d = debtor()
    d.event(dpd(58, when=0.1))  # 31-60; 61-90 from day ~3
    old_trigger = d.decisions[0].trigger_event_id
    d.wake(at(3.5))  # the account ages into 61-90: a new escalation
    d.advance(at(5.5))  # the 31-60 run's follow-up falls due at day 5.1
    old = [x for x in d.decisions if x.trigger_event_id == old_trigger]
    assert "orchestration.stale.bucket_left" in [h.rule_id for x in old for h in x.rules_fired]
    assert not [x for x in old if x.step == 1 and x.outcome == "DISPATCHED"]


# --- backfill ---------------------------------------------------------------------------


def test_backfilled_history_contacts_nobody_and_decides_nothing() -> None:
    d = Driver()
    now = at(5)  # Tuesday, 07:00 in Bogota
    for event in (
        profile(-40),
        opened(-30),
        instalment_due(1, due=6, when=-1),
        missed(1, 0, when=0.1),
        dpd(40, when=1.5),
    ):
        d.event(event, now=now, backfill=True)
    assert d.dispatches == [] and d.decisions == []
    assert not d.orch.runs
    # Live events after the history are decided as ever.
    assert len(d.event(missed(2, 4, when=4.9), now=now)) == 1


def test_a_backfilled_payment_still_ends_the_run_it_pays() -> None:
    d = debtor()
    assert len(d.event(missed(1, 0, when=0.1))) == 1
    d.event(paid("p1", 0.2, amount=10_000), now=at(0.3), backfill=True)
    assert not d.orch.runs
    assert d.decisions[-1].rules_fired[0].reason_code == "DEBT_PAID"


# --- the README's examples, read weeks later without --backfill -------------------------


def _examples() -> list[Event]:
    events: list[Event] = []
    for name in ("portfolio.jsonl", "debt-events.csv"):
        with EventFile(EXAMPLES / name) as rows:
            for row in rows:
                assert not isinstance(row, RowError), row
                assert isinstance(row.event, Event)
                events.append(row.event)
    return events


def test_the_examples_read_weeks_later_contact_nobody_about_the_past() -> None:
    now = datetime(2026, 12, 7, 15, tzinfo=UTC)
    drivers: dict[str, Driver] = {}
    by_id: dict[str, Event] = {}
    for event in _examples():
        by_id[str(event.event_id)] = event
        drivers.setdefault(event.debtor_id, Driver()).event(event, now=now)
    for d in drivers.values():
        by_id.update((str(e.event_id), e) for e in d.derived)
    for debtor_id, d in drivers.items():
        triggers = {x.dispatch_id: x.trigger_event_id for x in d.decisions if x.dispatch_id}
        for command in d.dispatches:
            assert command.trigger != "instalment_due", (debtor_id, command.variables)
            cause = by_id[str(triggers[command.dispatch_id])]
            # A contact may only answer something that happened within stale_after.
            assert now - cause.occurred_at <= timedelta(days=3), (debtor_id, command.trigger)
    # D-US-0001 promised to pay, D-BR-0001 disputed: neither is contacted.
    assert not drivers["D-US-0001"].dispatches
    assert not drivers["D-BR-0001"].dispatches
    assert "orchestration.stale.due_date_passed" in stale_rules(drivers["D-CO-0001"])


# --- property: whatever the delays, no reminder after its date, no stale news ----------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    due=st.integers(min_value=2, max_value=20),
    announced=st.integers(min_value=1, max_value=10),
    missed_delay=st.floats(min_value=0.0, max_value=8.0),
    reminder_delay=st.floats(min_value=0.0, max_value=15.0),
)
def test_no_reminder_after_its_due_date_and_no_news_older_than_stale_after(
    due: int, announced: int, missed_delay: float, reminder_delay: float
) -> None:
    d = debtor()
    reminder = instalment_due(1, due=due, when=due - announced)
    d.event(reminder, now=at(due - announced + reminder_delay))
    late = missed(1, due, when=due + 0.1)
    d.event(late, now=at(due + 0.1 + missed_delay))
    d.advance(at(due + 30))
    when_decided = {x.dispatch_id: x.occurred_at for x in d.decisions if x.dispatch_id}
    for command in d.dispatches:
        if command.trigger == "instalment_due":
            assert when_decided[command.dispatch_id].astimezone(BOGOTA).date() <= day(due)
    # Read after stale_after, the missed payment's run decides one thing: not to start.
    run = [x for x in d.decisions if x.trigger_event_id == late.event_id]
    if missed_delay > 3:
        assert [(x.outcome, x.rules_fired[0].rule_id) for x in run] == [
            ("SUPPRESSED", "orchestration.stale.too_old")
        ]
    else:
        assert "orchestration.stale.too_old" not in [h.rule_id for x in run for h in x.rules_fired]


def _ledgers(d: Driver) -> list[Ledger]:
    assert d.state is not None
    return [ledger_at(f, d.state.clock) for f in d.state.accounts.values()]
