"""The conversation's answers through the orchestrator (docs/policy.md,
"Answers to a debtor's message"): hours always apply, frequency caps do not,
one answer per message, on the channel written from, never past WhatsApp's
service window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import ChannelResponse, DebtEvent, DebtorProfile
from recaudo.conversation.dialogue import Reply
from recaudo.orchestration import Orchestrator, Templates, load_strategy
from recaudo.orchestration.state import Contact, OrchestrationState
from recaudo.view import DebtorState, apply
from recaudo.view.timebase import to_ms

BOGOTA = ZoneInfo("America/Bogota")
# Tuesday 17 to Sunday 29 November 2026: no Colombian holiday among them.
START = datetime(2026, 11, 17, 5, tzinfo=UTC)
ORCHESTRATOR = Orchestrator(load_strategy(None), Templates.load(None), conversations=True)
REPLY = Reply(
    "balance",
    {"amount": "COP 20,000.00", "balance": "COP 400,000.00", "days_past_due": "3"},
    "sms",
    "es",
)


def debtor(at: datetime) -> DebtorState:
    state = apply(
        None,
        DebtorProfile(
            occurred_at=at - timedelta(days=50),
            source="crm",
            debtor_id="D-1",
            preferred_language="es",
            time_zone="America/Bogota",
            country="CO",
            jurisdiction="co_ley_2300",
            contact_points=[
                {"channel": "sms", "address": "+573001234567", "consent": True},
                {"channel": "whatsapp", "address": "+573001234567", "consent": True},
            ],
        ),
    ).state
    return apply(
        state,
        DebtEvent(
            occurred_at=at - timedelta(days=40),
            source="core-banking",
            debtor_id="D-1",
            account_id="ACC-1",
            type="DEBT_OPENED",
            payload={
                "principal_minor": 50_000_000,
                "currency": "COP",
                "balance_minor": 40_000_000,
                "product": "card",
            },
        ),
    ).state


def message(at: datetime, channel: str = "sms") -> ChannelResponse:
    return ChannelResponse(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"reply/{at.isoformat()}/{channel}"),
        occurred_at=at,
        source="twilio",
        debtor_id="D-1",
        channel=channel,
        status="REPLIED",
        provider="twilio",
        text="cuanto debo",
    )


def within_hours(now: datetime) -> bool:
    """Ley 2300: Monday-Friday 07:00-19:00, Saturday 08:00-15:00, local time."""
    local = now.astimezone(BOGOTA)
    minutes = local.hour * 60 + local.minute
    if local.weekday() < 5:
        return 7 * 60 <= minutes < 19 * 60
    if local.weekday() == 5:
        return 8 * 60 <= minutes < 15 * 60
    return False


def near_an_edge(now: datetime) -> bool:
    local = now.astimezone(BOGOTA)
    minutes = local.hour * 60 + local.minute
    return any(abs(minutes - edge) <= 2 for edge in (7 * 60, 8 * 60, 15 * 60, 19 * 60))


@settings(max_examples=150, deadline=None)
@given(
    minute=st.integers(0, 12 * 24 * 60 - 1),
    earlier=st.lists(st.integers(1, 23 * 60), max_size=8),
)
def test_hours_apply_and_caps_do_not(minute: int, earlier: list[int]) -> None:
    now = START + timedelta(minutes=minute)
    if near_an_edge(now):
        return
    orch = OrchestrationState()
    # Contacts on the same channel within the day: Ley 2300's one a day would block an outreach.
    for ago in earlier:
        at = to_ms(now - timedelta(minutes=ago))
        orch.contacts.append(Contact(at, "sms", "ACC-1", f"d-{ago}"))
    out = ORCHESTRATOR.answer(orch, debtor(now), now, REPLY, message(now), "ACC-1", None)
    dispatched = [d for d in out.decisions if d.outcome == "DISPATCHED"]
    assert bool(dispatched) == within_hours(now), [d.rules_fired for d in out.decisions]
    assert len(out.decisions) == 1
    if dispatched:
        (command,) = out.dispatches
        assert command.channel == "sms" and command.address == "+573001234567"
        assert command.template == "conversation.balance" and command.locale == "es"
    else:
        assert out.dispatches == []


def test_one_answer_per_message_with_an_id_from_it() -> None:
    now = datetime(2026, 11, 18, 16, tzinfo=UTC)
    orch = OrchestrationState()
    first = ORCHESTRATOR.answer(orch, debtor(now), now, REPLY, message(now), "ACC-1", None)
    again = ORCHESTRATOR.answer(orch, debtor(now), now, REPLY, message(now), "ACC-1", None)
    assert len(first.dispatches) == 1 and not again
    replayed = ORCHESTRATOR.answer(
        OrchestrationState(), debtor(now), now, REPLY, message(now), "ACC-1", None
    )
    assert replayed.dispatches[0].dispatch_id == first.dispatches[0].dispatch_id
    assert orch.contacts[-1].dispatch_id == first.dispatches[0].dispatch_id


def test_a_whatsapp_answer_expires_with_the_service_window() -> None:
    now = datetime(2026, 11, 18, 16, tzinfo=UTC)
    window_end = to_ms(now + timedelta(minutes=5))
    reply = Reply("thanks", {}, "whatsapp", "es")
    out = ORCHESTRATOR.answer(
        OrchestrationState(),
        debtor(now),
        now,
        reply,
        message(now, "whatsapp"),
        "ACC-1",
        window_end,
    )
    (command,) = out.dispatches
    assert command.channel == "whatsapp"
    assert to_ms(command.expires_at) == window_end
