"""The learner's ledger: each dispatched learner decision is learnt once,
with the reward join_rewards gives it, whatever the order and however often
its records and outcomes are delivered, across a restart from its bytes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import (
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    LearningChoice,
    LearningFeature,
)
from recaudo.learning.bandit import Bandit, LearnerConfig
from recaudo.learning.online import RewardLedger, logged_step, outcomes_of, replay_log, teach
from recaudo.learning.rewards import LoggedDecision, Outcome, RewardConfig, join_rewards

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
CONFIG = RewardConfig(attribution_window=timedelta(days=3))
RECORD = LearningChoice(
    arm="learner",
    model_version="m0",
    probability_ppb=250_000_000,
    window="evening",
    variant="soft",
    actions=["sms@evening/soft", "whatsapp@evening/soft"],
    chosen=1,
    features=[LearningFeature(name="bucket", value="DPD_1_30")],
)


def decision(n: int, debtor: str, hours: float, **kw: object) -> ContactDecision:
    values: dict[str, object] = {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"d{n}"),
        "occurred_at": T0 + timedelta(hours=hours),
        "source": "test",
        "debtor_id": debtor,
        "trigger": "payment_missed",
        "step": 0,
        "channel": "whatsapp",
        "outcome": "DISPATCHED",
        "dispatch_id": f"x{n}",
        "learning": RECORD,
    }
    return ContactDecision.model_validate({**values, **kw})


DECISIONS = st.lists(
    st.tuples(st.sampled_from(["D1", "D2"]), st.floats(0, 140)), min_size=1, max_size=8
)
OUTCOMES = st.lists(
    st.tuples(
        st.sampled_from(["reply", "payment", "promise", "opt_out"]),
        st.sampled_from(["D1", "D2"]),
        st.floats(0, 140),
        st.integers(0, 7),  # the dispatch answered, if one of those drawn
    ),
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(DECISIONS, OUTCOMES, st.randoms(use_true_random=False), st.integers(0, 30))
def test_every_decision_is_learnt_once_with_the_reward_of_the_whole_log(
    drawn: list[tuple[str, float]],
    drawn_outcomes: list[tuple[str, str, float, int]],
    rng: object,
    restart_at: int,
) -> None:
    decisions = [decision(n, debtor, hours) for n, (debtor, hours) in enumerate(drawn)]
    outcomes = [
        Outcome(
            f"o{i}",
            kind,  # type: ignore[arg-type]
            debtor,
            T0 + timedelta(hours=hours),
            f"x{target}" if kind in ("reply", "opt_out") and target < len(decisions) else None,
        )
        for i, (kind, debtor, hours, target) in enumerate(drawn_outcomes)
    ]
    # Records within two windows of each other (a decision older than the
    # latest event by two windows is refused as too late), each delivered
    # twice, shuffled; the ledger restarts from its bytes midway.
    feed: list[ContactDecision | Outcome] = [*decisions, *outcomes, *decisions, *outcomes]
    rng.shuffle(feed)  # type: ignore[attr-defined]
    ledger = RewardLedger(CONFIG)
    learnt: dict[str, float] = {}
    for i, item in enumerate(feed):
        if isinstance(item, ContactDecision):
            ledger.add_decision(item)
        else:
            ledger.add_outcome(item)
        if i == restart_at:
            ledger = RewardLedger.decode(ledger.encode(), CONFIG)
    # Time moves past every window (a later event), then everything matures.
    latest = max(d.occurred_at for d in decisions)
    ledger.see(max(latest + CONFIG.attribution_window, T0 + timedelta(hours=140)))
    for m in ledger.mature():
        assert m.decision.decision_id not in learnt
        learnt[m.decision.decision_id] = m.reward
    expected = join_rewards(
        [
            LoggedDecision(
                str(d.event_id), d.dispatch_id or "", d.debtor_id, "whatsapp", d.occurred_at
            )
            for d in decisions
        ],
        outcomes,
        CONFIG,
    )
    assert learnt == {k: r.value for k, r in expected.items()}
    # A redelivery after learning is refused (the latest decision is within
    # two windows of the clock: remembered as learnt, not yet too late).
    assert not any(ledger.add_decision(d) for d in decisions)
    assert ledger.mature() == []
    # Two windows on, a decision that old is refused, remembered or not.
    ledger.see(T0 + timedelta(hours=211) + 2 * CONFIG.attribution_window)
    assert not ledger.add_decision(decision(99, "D1", 0))


def test_only_the_learners_dispatches_wait_for_a_reward() -> None:
    ledger = RewardLedger(CONFIG)
    assert not ledger.add_decision(decision(1, "D1", 0, learning=LearningChoice(arm="static")))
    assert not ledger.add_decision(decision(2, "D1", 0, learning=None))
    assert not ledger.add_decision(decision(3, "D1", 0, outcome="SUPPRESSED", dispatch_id=None))
    assert ledger.add_decision(decision(4, "D1", 0))
    assert not ledger.add_decision(decision(4, "D1", 0))


def test_a_decision_matures_when_event_time_passes_its_window_and_is_taught() -> None:
    ledger = RewardLedger(CONFIG)
    ledger.add_decision(decision(1, "D1", 0))
    ledger.add_outcome(Outcome("o1", "payment", "D1", T0 + timedelta(hours=5)))
    ledger.see(T0 + timedelta(days=2))
    assert ledger.mature() == []
    ledger.see(T0 + timedelta(days=3))
    matured = ledger.mature()
    assert [m.reward for m in matured] == [1.0 - 0.02]
    bandit = Bandit(LearnerConfig())
    before = bandit.version
    assert teach(bandit, matured) == 1
    assert bandit.version != before


def test_events_become_outcomes() -> None:
    reply = ChannelResponse(
        occurred_at=T0,
        source="t",
        debtor_id="D1",
        dispatch_id="x1",
        channel="sms",
        status="REPLIED",
        provider="p",
        text="ok lo pago",
    )
    stop = reply.model_copy(update={"event_id": uuid.uuid4(), "text": "STOP"})
    read = reply.model_copy(update={"event_id": uuid.uuid4(), "status": "READ"})
    assert [o.kind for o in outcomes_of(reply)] == ["reply"]
    assert outcomes_of(reply)[0].dispatch_id == "x1"
    assert [o.kind for o in outcomes_of(stop)] == ["opt_out"]
    assert outcomes_of(read) == []
    paid = DebtEvent.model_validate(
        {
            "occurred_at": T0,
            "source": "bank",
            "debtor_id": "D1",
            "account_id": "A1",
            "type": "PAYMENT_RECEIVED",
            "payload": {
                "payment_id": "p1",
                "amount_minor": 5000,
                "currency": "USD",
                "method": "transfer",
            },
        }
    )
    [payment] = outcomes_of(paid)
    assert (payment.kind, payment.amount_minor, payment.dispatch_id) == ("payment", 5000, None)


def test_the_log_replays_into_evaluation_steps_as_the_learner_learnt_them() -> None:
    sent = decision(1, "D1", 0)
    reply = ChannelResponse(
        occurred_at=T0 + timedelta(hours=1),
        source="t",
        debtor_id="D1",
        dispatch_id="x1",
        channel="whatsapp",
        status="REPLIED",
        provider="p",
        text="ok",
    )
    young = decision(2, "D2", 80)  # its window is still open at the end of the log
    matured = replay_log([young, reply, reply, sent], CONFIG)
    assert [m.decision.decision_id for m in matured] == [str(sent.event_id)]
    assert matured[0].reward == pytest.approx(0.2 - 0.02)
    step = logged_step(matured[0])
    assert step is not None
    assert (step.chosen, step.probability, step.reward) == (1, 0.25, matured[0].reward)
    assert [a.label for a in step.actions] == RECORD.actions
