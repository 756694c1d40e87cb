"""The KPI stream reports the learner's arms side by side: with the learner
switched on, a contact and what answers it count under the ARM member
``strategy/arm/learning-arm``; switched off, the members are as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from recaudo.contracts.records import ChannelResponse, ContactDecision, LearningChoice
from recaudo.kpis import DebtorKpiState, observe
from tests.fixtures import T0


def decision(dispatch: str, learning: LearningChoice | None) -> ContactDecision:
    data: dict[str, Any] = {
        "occurred_at": T0,
        "source": "o",
        "debtor_id": "D-1",
        "trigger": "payment_missed",
        "step": 0,
        "outcome": "DISPATCHED",
        "channel": "sms",
        "dispatch_id": dispatch,
        "strategy": "default",
        "arm": "champion",
        "learning": learning,
    }
    return ContactDecision.model_validate(data)


def replied(dispatch: str) -> ChannelResponse:
    return ChannelResponse(
        occurred_at=T0 + timedelta(minutes=5),
        source="c",
        debtor_id="D-1",
        dispatch_id=dispatch,
        channel="sms",
        status="REPLIED",
        provider="p",
    )


def arms(*events: ContactDecision | ChannelResponse) -> dict[str, tuple[int, int]]:
    """ARM member -> (contacts, replies)."""
    state = DebtorKpiState()
    out: dict[str, tuple[int, int]] = {}
    for event in events:
        for a in observe(state, event):
            for dimension, member in a.touch.members():
                if dimension == "ARM":
                    contacts, replies = out.get(member, (0, 0))
                    out[member] = (contacts + a.counters.contacts, replies + a.counters.replied)
    return out


def test_each_learning_arm_has_its_own_row() -> None:
    assert arms(
        decision("d1", LearningChoice(arm="learner", chosen=None)),
        replied("d1"),
        decision("d2", LearningChoice(arm="static")),
        decision("d3", LearningChoice(arm="holdout")),
    ) == {
        "default/champion/learner": (1, 1),
        "default/champion/static": (1, 0),
        "default/champion/holdout": (1, 0),
    }


def test_switched_off_the_rows_are_the_strategy_arms() -> None:
    assert arms(decision("d1", None), replied("d1")) == {"default/champion": (1, 1)}
