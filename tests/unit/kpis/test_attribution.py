"""Attribution of events to channel, bucket and arm, once per id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from recaudo.contracts.records import ChannelResponse, ContactDecision, RuleHit
from recaudo.kpis import Counters, DebtorKpiState, Touch, observe
from tests.fixtures import T0, debt_event


def decision(outcome: str = "DISPATCHED", **kw: Any) -> ContactDecision:
    data: dict[str, Any] = {
        "occurred_at": T0,
        "source": "o",
        "debtor_id": "D-1",
        "trigger": "t",
        "step": 0,
        "outcome": outcome,
        "channel": "sms",
        "dispatch_id": "d1",
        "strategy": "s",
        "arm": "A",
    }
    data.update(kw)
    return ContactDecision.model_validate(data)


def response(status: str, dispatch_id: str | None = "d1", channel: str = "sms") -> ChannelResponse:
    return ChannelResponse(
        occurred_at=T0 + timedelta(minutes=5),
        source="c",
        debtor_id="D-1",
        dispatch_id=dispatch_id,
        channel=channel,
        status=status,
        provider="p",  # type: ignore[arg-type]
    )


def opened(dpd: int, account: str = "A-1") -> Any:
    return debt_event(
        type="DEBT_OPENED",
        account_id=account,
        payload={
            "principal_minor": 1000,
            "currency": "COP",
            "balance_minor": 1000,
            "product": "loan",
            "days_past_due": dpd,
        },
    )


def total(state: DebtorKpiState, *events: Any) -> Counters:
    out = Counters()
    for event in events:
        for a in observe(state, event):
            out.add(a.counters)
    return out


def test_dispatch_is_attributed_to_channel_bucket_and_arm() -> None:
    state = DebtorKpiState()
    assert observe(state, opened(45)) == []
    (a,) = observe(state, decision())
    assert a.touch == Touch("sms", "DPD_31_60", "s/A")
    assert (a.counters.contacts, a.counters.episodes, a.counters.calls) == (1, 1, 0)
    assert [m for m in a.touch.members()] == [
        ("ALL", "all"),
        ("CHANNEL", "sms"),
        ("BUCKET", "DPD_31_60"),
        ("ARM", "s/A"),
    ]


def test_worst_account_is_the_debtors_bucket() -> None:
    state = DebtorKpiState()
    total(state, opened(10, "A-1"), opened(95, "A-2"))
    assert state.bucket == "DPD_90_PLUS"


def test_replayed_event_and_repeated_dispatch_count_once() -> None:
    state = DebtorKpiState()
    first = decision()
    again = decision()  # same dispatch id, new event id (a re-decided replay)
    got = total(state, first, first, again)
    assert got.contacts == 1 and got.episodes == 1


def test_each_status_counts_once_per_dispatch_and_goes_to_the_dispatch_arm() -> None:
    state = DebtorKpiState()
    total(state, decision())
    (a,) = observe(state, response("DELIVERED"))
    assert a.touch.arm == "s/A" and a.counters.delivered == 1
    assert observe(state, response("DELIVERED")) == []
    (r,) = observe(state, response("REPLIED"))
    assert (r.counters.replied, r.counters.delivered) == (1, 0)
    assert observe(state, response("FAILED")) == []  # delivered already: not a failure


def test_voice_right_party_implies_delivery() -> None:
    state = DebtorKpiState()
    total(state, decision(channel="voice", dispatch_id="v1"))
    got = total(state, response("CALL_RIGHT_PARTY", "v1", "voice"))
    assert (got.delivered, got.right_party) == (1, 1)


def test_unknown_dispatch_keeps_its_channel() -> None:
    (a,) = observe(DebtorKpiState(), response("BOUNCED", "zz", "email"))
    assert a.touch == Touch("email", None, None) and a.counters.failed == 1


def test_inbound_replies_without_a_dispatch_each_count() -> None:
    state = DebtorKpiState()
    got = total(state, response("REPLIED", None), response("REPLIED", None))
    assert got.replied == 2 and state.dispatches == {}


def test_suppression_reasons_and_deferrals() -> None:
    state = DebtorKpiState()
    hits = [
        RuleHit(rule_id="q", reason_code="QUIET_HOURS"),
        RuleHit(rule_id="c", reason_code="CAP_REACHED"),
        RuleHit(rule_id="q2", reason_code="QUIET_HOURS"),
    ]
    got = total(
        state,
        decision("SUPPRESSED", rules_fired=hits, dispatch_id=None),
        decision("SUPPRESSED", dispatch_id=None),
        decision("DEFERRED"),
    )
    assert got.suppressed == 2 and got.deferred == 1 and got.contacts == 0
    assert got.suppressions == {"QUIET_HOURS": 1, "CAP_REACHED": 1, "UNSPECIFIED": 1}


def test_promise_kept_by_payments_up_to_its_date() -> None:
    state = DebtorKpiState()
    total(state, opened(20), decision(channel="voice", dispatch_id="v1"))
    promise = debt_event(
        type="PROMISE_TO_PAY",
        payload={
            "promise_id": "p1",
            "amount_minor": 1000,
            "currency": "COP",
            "promised_date": "2026-11-10",
        },
    )
    (made,) = observe(state, promise)
    assert made.touch == Touch("voice", "DPD_1_30", "s/A") and made.counters.promises == 1

    def pay(amount: int, days: int) -> Any:
        return debt_event(
            type="PAYMENT_RECEIVED",
            occurred_at=T0 + timedelta(days=days),
            payload={"payment_id": f"x{amount}{days}", "amount_minor": amount, "currency": "COP"},
        )

    first = total(state, pay(600, 1))
    assert first.promises_kept == 0 and first.recovered_minor == {"COP": 600}
    second = total(state, pay(400, 2))
    assert second.promises_kept == 1 and second.payments == 1


def test_late_payment_does_not_keep_and_broken_is_counted_once() -> None:
    state = DebtorKpiState()
    total(
        state,
        debt_event(
            type="PROMISE_TO_PAY",
            payload={
                "promise_id": "p1",
                "amount_minor": 1000,
                "currency": "COP",
                "promised_date": "2026-11-03",
            },
        ),
    )
    late = debt_event(
        type="PAYMENT_RECEIVED",
        occurred_at=T0 + timedelta(days=5),
        payload={"payment_id": "x", "amount_minor": 5000, "currency": "COP"},
    )
    assert total(state, late).promises_kept == 0
    broken = debt_event(
        type="PROMISE_BROKEN",
        payload={
            "promise_id": "p1",
            "amount_minor": 1000,
            "currency": "COP",
            "promised_date": "2026-11-03",
        },
    )
    assert total(state, broken).promises_broken == 1
    assert total(state, broken).promises_broken == 0  # the same event again


def test_cure_closes_the_episode_with_its_contacts() -> None:
    state = DebtorKpiState()
    total(state, opened(40), decision(), decision(dispatch_id="d2", channel="email"))
    cured = debt_event(type="DEBT_CURED", payload={"previous_bucket": "DPD_31_60"})
    (a,) = observe(state, cured)
    assert a.touch == Touch("email", "DPD_31_60", "s/A")
    assert (a.counters.cures, a.counters.contacted_cures, a.counters.contacts_to_cure) == (1, 1, 2)
    assert state.bucket == "CURRENT"
    # A new episode starts with the next contact; a self-cure adds no contacts.
    assert total(state, decision(dispatch_id="d3")).episodes == 1
    state2 = DebtorKpiState()
    self_cure = total(state2, cured)
    assert (self_cure.cures, self_cure.contacted_cures, self_cure.contacts_to_cure) == (1, 0, 0)


def test_state_roundtrips_and_stays_bounded() -> None:
    state = DebtorKpiState()
    total(state, opened(5))
    for i in range(100):
        total(state, decision(dispatch_id=f"d{i}"), response("DELIVERED", f"d{i}"))
    back = DebtorKpiState.decode(state.encode())
    assert back == state
    assert len(back.dispatches) <= 32 and len(back.recent) <= 64
    assert len(state.encode()) < 8000
