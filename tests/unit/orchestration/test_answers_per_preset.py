"""Answers to a debtor's message under every jurisdiction preset
(docs/conversations.md, "Answers under each preset"): the preset's hours and
holidays apply, an answer they refuse waits for the next allowed moment (not
dropped), its frequency caps and cooldowns never block an answer, the
answer counts toward them afterwards, and the dialogue's own reminder is
capped like any contact the debtor did not ask for."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import DebtEvent, DebtorProfile
from recaudo.conversation.dialogue import Reply
from recaudo.orchestration import Orchestrator, Templates, load_strategy
from recaudo.orchestration.engine import answer_key
from recaudo.orchestration.state import Contact, OrchestrationState
from recaudo.policy import PRESETS
from recaudo.view import DebtorState, apply
from recaudo.view.timebase import to_ms

ORCHESTRATOR = Orchestrator(load_strategy(None), Templates.load(None), conversations=True)
START = datetime(2026, 11, 2, 5, tzinfo=UTC)  # two weeks from Monday 2 November 2026
#: preset -> (country, time zone, region) of a debtor it governs
WHERE = {
    "us_reg_f": ("US", "America/New_York", None),
    "co_ley_2300": ("CO", "America/Bogota", None),
    "cl_ley_19496": ("CL", "America/Santiago", None),
    "mx_condusef": ("MX", "America/Mexico_City", None),
    "pe_ley_29571": ("PE", "America/Lima", None),
    "br_sp": ("BR", "America/Sao_Paulo", "SP"),
}
CAPPED = {p for p, rules in PRESETS.items() if rules.caps}


def debtor(preset: str) -> DebtorState:
    country, zone, region = WHERE[preset]
    state = apply(
        None,
        DebtorProfile(
            occurred_at=START - timedelta(days=50),
            source="crm",
            debtor_id="D-1",
            preferred_language="es",
            time_zone=zone,
            country=country,
            subdivision=region,
            jurisdiction=preset,
            contact_points=[
                {"channel": "sms", "address": "+10000000000", "consent": True},
                {"channel": "whatsapp", "address": "+10000000000", "consent": True},
            ],
        ),
    ).state
    opened = DebtEvent(
        occurred_at=START - timedelta(days=40),
        source="core-banking",
        debtor_id="D-1",
        account_id="ACC-1",
        type="DEBT_OPENED",
        payload={
            "principal_minor": 50_000_000,
            "currency": "USD",
            "balance_minor": 40_000_000,
            "product": "card",
        },
    )
    return apply(state, opened).state


def answered(
    preset: str,
    now: datetime,
    history: Sequence[int] = (),
    *,
    reminder: bool = False,
    channel: str = "sms",
) -> tuple[str, datetime | None, OrchestrationState]:
    orch = OrchestrationState(
        contacts=[
            Contact(to_ms(now - timedelta(minutes=ago)), channel, "ACC-1", f"d-{ago}")  # type: ignore[arg-type]
            for ago in history
        ]
    )
    reply = Reply("thanks", {}, channel, "es")  # type: ignore[arg-type]
    key = answer_key(str(uuid.uuid5(uuid.NAMESPACE_URL, now.isoformat())))
    out = ORCHESTRATOR.send_answer(
        orch, debtor(preset), now, reply, key, None, None, "ACC-1", None, caps=reminder
    )
    (decision,) = out.decisions
    return decision.outcome, decision.not_before, orch


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_is_covered(preset: str) -> None:
    assert preset in WHERE


@settings(max_examples=300, deadline=None)
@given(
    preset=st.sampled_from(sorted(PRESETS)),
    minute=st.integers(0, 14 * 24 * 60 - 1),
    history=st.lists(st.integers(1, 23 * 60), min_size=1, max_size=8),
)
def test_hours_hold_an_answer_and_caps_never_block_it(
    preset: str, minute: int, history: list[int]
) -> None:
    now = START + timedelta(minutes=minute)
    outcome, not_before, _ = answered(preset, now)
    # The contacts that exhaust every cap the preset has change nothing for an answer.
    assert answered(preset, now, history)[:2] == (outcome, not_before)
    assert outcome in ("DISPATCHED", "DEFERRED")
    if outcome == "DEFERRED":
        assert not_before is not None and not_before > now
        # Held until the next allowed moment: allowed then, not a minute before.
        assert answered(preset, not_before)[0] == "DISPATCHED"
        assert answered(preset, not_before - timedelta(minutes=1))[0] == "DEFERRED"


@settings(max_examples=150, deadline=None)
@given(
    preset=st.sampled_from(sorted(PRESETS)),
    minute=st.integers(0, 14 * 24 * 60 - 1),
)
def test_an_answer_counts_toward_the_caps_and_a_reminder_is_capped(
    preset: str, minute: int
) -> None:
    now = START + timedelta(minutes=minute)
    outcome, _, orch = answered(preset, now)
    if outcome != "DISPATCHED":
        return
    assert len(orch.contacts) == 1  # recorded: later outreach counts it
    # A reminder an hour after an outreach that day: the caps apply to it.
    reminder = answered(preset, now, [60], reminder=True)[0]
    if preset in CAPPED and preset != "us_reg_f":  # Regulation F caps calls only
        assert reminder != "DISPATCHED"
    else:
        assert reminder == "DISPATCHED"
