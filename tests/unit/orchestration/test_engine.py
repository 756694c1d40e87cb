"""The orchestrator's behaviour, scenario by scenario (pure: no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recaudo.orchestration import OrchestrationState, dispatch_id, strategy_from_mapping
from recaudo.view.timebase import from_ms
from tests.unit.orchestration.driver import Driver
from tests.unit.view.builders import (
    DEBTOR,
    at,
    debt,
    dpd,
    missed,
    opened,
    paid,
    profile,
    response,
)

# 2026-10-01 12:00 UTC is 07:00 in Bogota, a Thursday: inside Ley 2300's hours.


def one_step(channels: list[str], fallback: str | None = None, **cadence: object) -> Driver:
    step: dict[str, object] = {"offset": "0h", "channels": channels, "template": "payment_missed"}
    if fallback:
        step["fallback_after"] = fallback
    steps = [step, {**step, "offset": "3d", "template": "payment_missed_followup"}]
    data = {
        "id": "test",
        "cadence": [{"id": "c", "trigger": "payment_missed", "champion": steps, **cadence}],
    }
    return Driver.with_strategy(strategy_from_mapping(data))


def test_a_missed_payment_makes_exactly_one_dispatch() -> None:
    d = one_step(["sms", "email"])
    d.event(profile(-40))
    d.event(opened(-30))
    sent = d.event(missed(1, 0, when=0.1))
    assert len(sent) == 1
    cmd = sent[0]
    assert cmd.channel == "sms" and cmd.address == "+573001112233"
    key = next(iter(d.orch.runs))
    assert cmd.dispatch_id == dispatch_id(DEBTOR, key, 0, "sms")
    assert cmd.locale == "es" and "****" in cmd.body and "USD" in cmd.body
    assert cmd.expires_at > cmd.not_before
    assert [x.outcome for x in d.decisions] == ["DISPATCHED"]


def test_the_same_trigger_twice_dispatches_once() -> None:
    d = one_step(["sms"])
    d.event(profile(-40))
    d.event(opened(-30))
    event = missed(1, 0, when=0.1)
    assert len(d.event(event)) == 1
    # Even if the view let it through again, the run key is known.
    d.orchestrator.handle(d.orch, d.state, at(0.2), event, [])  # type: ignore[arg-type]
    out = d.orchestrator.handle(d.orch, d.state, at(0.2), event, [])  # type: ignore[arg-type]
    assert not out.dispatches


def test_at_night_the_contact_is_deferred_to_the_window_then_sent() -> None:
    d = one_step(["sms"])
    d.event(profile(-40))
    d.event(opened(-30))
    night = datetime(2026, 10, 2, 6, tzinfo=UTC)  # 01:00 in Bogota
    assert d.event(missed(1, 0, when=0.75), now=night) == []
    assert [x.outcome for x in d.decisions] == ["DEFERRED"]
    not_before = d.decisions[0].not_before
    assert not_before == datetime(2026, 10, 2, 12, tzinfo=UTC)  # 07:00 local
    assert d.next_due() is not None and from_ms(d.next_due()) == not_before  # type: ignore[arg-type]
    assert d.wake(not_before - timedelta(minutes=1)) == []
    sent = d.wake(not_before)
    assert len(sent) == 1
    assert [x.outcome for x in d.decisions] == ["DEFERRED", "DISPATCHED"]


def test_a_debtor_who_pays_is_suppressed_from_pending_steps() -> None:
    d = one_step(["sms"])
    d.event(profile(-40))
    d.event(opened(-30, dpd=0, balance=100_000))
    assert len(d.event(missed(1, 0, when=0.1))) == 1
    d.event(paid("p1", 1.0, amount=10_000))
    assert d.wake(at(3.5)) == []
    assert d.decisions[-1].outcome == "SUPPRESSED"
    assert d.decisions[-1].rules_fired[0].reason_code == "DEBT_PAID"
    assert not d.orch.runs


US = {"jurisdiction": "us_reg_f", "time_zone": "America/New_York", "country": "US"}


def test_a_failed_contact_falls_back_to_the_next_channel() -> None:
    d = one_step(["sms", "email"], fallback="24h")
    d.event(profile(-40, **US))
    d.event(opened(-30))
    first = d.event(missed(1, 0, when=0.1))[0]
    again = d.event(response("FAILED", 0.2, dispatch=first.dispatch_id, error_code="30003"))
    assert [c.channel for c in again] == ["email"]


def test_no_response_within_the_window_falls_back() -> None:
    d = one_step(["sms", "email"], fallback="24h")
    d.event(profile(-40, **US))
    d.event(opened(-30))
    d.event(missed(1, 0, when=0.1))
    assert d.wake(at(1.0)) == []
    assert [c.channel for c in d.wake(at(1.2))] == ["email"]


def test_a_reply_stops_the_fallback() -> None:
    d = one_step(["sms", "email"], fallback="24h")
    d.event(profile(-40))
    d.event(opened(-30))
    first = d.event(missed(1, 0, when=0.1))[0]
    d.event(response("READ", 0.3, dispatch=first.dispatch_id))
    assert d.wake(at(1.2)) == []
    assert d.orch.runs and next(iter(d.orch.runs.values())).step == 1


def test_without_a_profile_the_run_waits_for_one() -> None:
    d = one_step(["sms"])
    d.event(opened(-30))
    assert d.event(missed(1, 0, when=0.1)) == []
    assert d.next_due() is None  # no timer spins while nothing can be decided
    sent = d.event(profile(0.2))
    assert len(sent) == 1


def test_an_opted_out_channel_is_skipped() -> None:
    d = one_step(["sms", "email"])
    d.event(profile(-40))
    d.event(opened(-30))
    d.event(response("REPLIED", -10, dispatch="old", text="BAJA"))
    sent = d.event(missed(1, 0, when=0.1))
    assert [c.channel for c in sent] == ["email"]


def test_the_same_notice_is_not_sent_twice_within_the_window() -> None:
    d = one_step(["sms", "email"])
    d.event(profile(-40, jurisdiction="us_reg_f", time_zone="America/New_York", country="US"))
    d.event(opened(-30))
    assert len(d.event(missed(1, 0, when=0.1))) == 1
    # Another instalment missed the same day: same account, same template.
    assert d.event(missed(2, 0, when=0.2)) == []
    assert d.decisions[-1].rules_fired[0].reason_code == "DUPLICATE_NOTICE"


def test_reg_f_appends_the_opt_out_sentence() -> None:
    d = one_step(["sms"])
    d.event(
        profile(
            -40,
            jurisdiction="us_reg_f",
            time_zone="America/New_York",
            country="US",
            preferred_language="en",
        )
    )
    d.event(opened(-30))
    cmd = d.event(missed(1, 0, when=0.1))[0]
    assert cmd.body is not None and cmd.body.endswith("Reply STOP to opt out.")


def test_ley_2300_holds_the_fallback_to_one_channel_a_week() -> None:
    d = one_step(["sms", "email"], fallback="24h")
    d.event(profile(-40))
    d.event(opened(-30))
    first = d.event(missed(1, 0, when=0.1))[0]
    assert d.event(response("FAILED", 0.2, dispatch=first.dispatch_id, error_code="1")) == []
    assert d.decisions[-1].outcome == "DEFERRED"
    assert {h.rule_id for h in d.decisions[-1].rules_fired} >= {"caps.debtor_one_channel_7d"}


def test_ley_2300_allows_one_contact_a_day() -> None:
    d = one_step(["sms", "email"])
    d.event(profile(-40))
    d.event(opened(-30))
    d.event(opened(-30, account="A-2"))
    assert len(d.event(missed(1, 0, when=0.1))) == 1
    assert d.event(missed(1, 0, when=0.15, account="A-2")) == []
    assert d.decisions[-1].outcome == "DEFERRED"


def test_state_survives_encoding_mid_run() -> None:
    d = one_step(["sms", "email"], fallback="24h")
    d.event(profile(-40))
    d.event(opened(-30))
    d.event(missed(1, 0, when=0.1))
    copy = OrchestrationState.decode(d.orch.encode())
    assert copy == d.orch


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_arm_follows_the_split(share: float) -> None:
    challenger = [{"offset": "0h", "channels": ["email"], "template": "payment_missed"}]
    d = one_step(["sms"], challenger=challenger, challenger_share=share)
    d.event(profile(-40))
    d.event(opened(-30))
    cmd = d.event(missed(1, 0, when=0.1))[0]
    assert cmd.arm == ("challenger" if share else "champion")
    assert cmd.channel == ("email" if share else "sms")


def escalated() -> tuple[Driver, str]:
    """A New York debtor's account turns 35 days past due (USD 200 overdue):
    the default strategy calls at once and waits 24 h before the next channel."""
    d = Driver()
    d.event(profile(-40, **US, preferred_language="en"))
    d.event(opened(-60, balance=100_000))
    sent = d.event(dpd(35, 0.0))
    assert [(c.channel, c.template) for c in sent] == [("voice", "arrears_escalation")]
    return d, sent[0].dispatch_id


def test_an_instalment_payment_after_a_bucket_change_keeps_the_fallback_waiting() -> None:
    d, _ = escalated()
    (run,) = d.orch.runs.values()
    waiting_until = run.due_at
    # An instalment paid: USD 100 of the USD 200 overdue remains.
    assert d.event(paid("p1", 0.1, amount=10_000)) == []
    (run,) = d.orch.runs.values()
    assert (run.phase, run.due_at, run.channel_idx) == ("await", waiting_until, 1)
    d.advance(at(0.99))
    assert [c.channel for c in d.dispatches] == ["voice"]
    # The fallback comes when its 24 h are up, as without the payment.
    d.advance(at(1.0))
    assert [(c.channel, c.template) for c in d.dispatches] == [
        ("voice", "arrears_escalation"),
        ("sms", "arrears_escalation"),
    ]
    assert d.moments[-1] == at(1.0)


def test_a_payment_that_clears_the_arrears_ends_the_waiting_run_at_once() -> None:
    d, _ = escalated()
    assert d.event(paid("p1", 0.1, amount=20_000)) == []
    assert not d.orch.runs
    last = d.decisions[-1]
    assert (last.outcome, last.occurred_at) == ("SUPPRESSED", at(0.1))
    assert [h.rule_id for h in last.rules_fired] == ["orchestration.nothing_overdue"]
    d.advance(at(10))
    assert len(d.dispatches) == 1


def test_a_dispute_ends_the_waiting_run_at_once() -> None:
    d, _ = escalated()
    dispute = debt("DISPUTE_OPENED", 0.1, dispute_id="dz-1", reason="not mine")
    assert d.event(dispute) == []
    assert not d.orch.runs
    assert [h.reason_code for h in d.decisions[-1].rules_fired] == ["DISPUTE_OPEN"]


def test_a_partial_payment_does_not_bring_the_next_step_forward() -> None:
    d = one_step(["sms"])
    d.event(profile(-40, **US))
    d.event(opened(-30))
    assert len(d.event(missed(1, 0, when=0.1))) == 1
    # Half the missed instalment paid: still overdue, the follow-up keeps its day.
    assert d.event(paid("p1", 1.0, amount=5_000)) == []
    d.advance(at(3.09))
    assert [c.template for c in d.dispatches] == ["payment_missed"]
    d.advance(at(3.1))
    assert [c.template for c in d.dispatches] == ["payment_missed", "payment_missed_followup"]


def test_a_contact_decided_in_the_last_minute_of_the_window_waits_for_the_next() -> None:
    d = one_step(["sms"])
    d.event(profile(-40))
    d.event(opened(-30))
    friday = datetime(2026, 10, 2, 23, 59, 30, tzinfo=UTC)  # 18:59:30 in Bogota
    assert d.event(missed(1, 0, when=0.5), now=friday) == []
    deferred = d.decisions[-1]
    assert deferred.outcome == "DEFERRED"
    assert [h.reason_code for h in deferred.rules_fired] == ["WINDOW_CLOSING"]
    saturday = datetime(2026, 10, 3, 13, tzinfo=UTC)  # 08:00, Saturday's window
    assert deferred.not_before == saturday
    d.advance(saturday)
    (cmd,) = d.dispatches
    assert cmd.occurred_at == saturday
    assert cmd.expires_at == saturday + timedelta(hours=4)  # the strategy's expiry


def test_a_dispatch_expires_when_its_window_closes() -> None:
    d = one_step(["sms"])
    d.event(profile(-40))
    d.event(opened(-30))
    friday = datetime(2026, 10, 2, 23, 58, 30, tzinfo=UTC)  # 18:58:30 in Bogota
    (cmd,) = d.event(missed(1, 0, when=0.5), now=friday)
    assert cmd.expires_at == datetime(2026, 10, 3, 0, 0, tzinfo=UTC)  # 19:00 in Bogota
