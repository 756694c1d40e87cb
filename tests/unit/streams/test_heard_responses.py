"""The orchestrator hears a debtor's send outcomes in one order, whatever order
the connectors answer in: a response is held back while another send of the
debtor awaits its outcome, and all are heard, by time and id, once none does.

A book is folded and orchestrated (the clock frozen inside it), then every
send it made fails, the answers reaching the view in two different orders.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import (
    ChannelResponse,
    ContactDecision,
    DispatchCommand,
    Event,
    Timer,
)
from recaudo.demo.portfolio import generate
from recaudo.orchestration.clock import FixedClock
from recaudo.settings import Settings
from streams.debtor_view import HEARD_KEY, OUTCOME_WAIT_MS, Folder, build_orchestrator
from tests.unit.streams.builders import DictState

# A Wednesday afternoon on the book's fourth day.
NOW = datetime(2026, 11, 4, 16, tzinfo=UTC)
Store = dict[tuple[str, str], bytes]


def orchestrating(clock: FixedClock) -> Folder:
    return Folder(
        build_orchestrator(Settings(kafka_bootstrap_servers="k:9092")), clock, timers=True
    )


def step(
    folder: Folder, store: Store, event: Event
) -> tuple[list[ContactDecision], list[DispatchCommand]]:
    out = folder(event, event.debtor_id, 0, None, DictState(store, event.debtor_id))
    if out.outputs is None:
        return [], []
    return out.outputs.decisions, out.outputs.dispatches


def failed(command: DispatchCommand) -> ChannelResponse:
    return ChannelResponse(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"failed/{command.dispatch_id}"),
        occurred_at=NOW,
        source=f"recaudo.connector.{command.channel}",
        debtor_id=command.debtor_id,
        dispatch_id=command.dispatch_id,
        channel=command.channel,
        status="FAILED",
        provider="simulator",
        error_code="SIM_UNREACHABLE",
    )


def book_sent() -> tuple[list[Event], dict[str, list[DispatchCommand]]]:
    """The book, in time order, and what it dispatched per debtor."""
    events: list[Event] = sorted(generate(60), key=lambda e: (e.occurred_at, str(e.event_id)))
    folder = orchestrating(FixedClock(NOW))
    store: Store = {}
    sent: dict[str, list[DispatchCommand]] = defaultdict(list)
    for event in events:
        for command in step(folder, store, event)[1]:
            sent[command.debtor_id].append(command)
    return events, sent


def decided_after_failures(
    events: list[Event], answers: list[ChannelResponse]
) -> dict[str, list[tuple[str, str, str | None]]]:
    """Per debtor, the decisions taken after the book, as ``answers`` arrive in turn."""
    folder = orchestrating(FixedClock(NOW))
    store: Store = {}
    for event in events:
        step(folder, store, event)
    out: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
    for answer in answers:
        for decision in step(folder, store, answer)[0]:
            out[decision.debtor_id].append(
                (str(decision.event_id), decision.outcome, decision.channel)
            )
    return {debtor: sorted(decided) for debtor, decided in out.items()}


@pytest.fixture(scope="module")
def book() -> tuple[list[Event], dict[str, list[DispatchCommand]]]:
    return book_sent()


@pytest.fixture(scope="module")
def heard_in_order(
    book: tuple[list[Event], dict[str, list[DispatchCommand]]],
) -> dict[str, list[tuple[str, str, str | None]]]:
    events, sent = book
    several = {d for d, commands in sent.items() if len(commands) >= 2}
    assert len(several) >= 10, "the book must send several times to many debtors"
    decided = decided_after_failures(events, answers_of(sent))
    assert any(len(decided.get(d, [])) >= 2 for d in several), "no fallback was decided"
    return decided


def answers_of(sent: dict[str, list[DispatchCommand]]) -> list[ChannelResponse]:
    return [failed(c) for commands in sent.values() for c in commands]


# Each example folds the whole book again: a few suffice, each a different
# interleaving of some 150 answers.
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.randoms(use_true_random=False))
def test_failures_heard_in_any_order_decide_the_same(
    book: tuple[list[Event], dict[str, list[DispatchCommand]]],
    heard_in_order: dict[str, list[tuple[str, str, str | None]]],
    order: random.Random,
) -> None:
    events, sent = book
    shuffled = answers_of(sent)
    order.shuffle(shuffled)
    assert decided_after_failures(events, shuffled) == heard_in_order


def accepted(command: DispatchCommand) -> ChannelResponse:
    return failed(command).model_copy(
        update={"event_id": uuid.uuid4(), "status": "ACCEPTED", "error_code": None}
    )


def test_a_response_is_held_while_another_send_awaits_its_outcome(
    book: tuple[list[Event], dict[str, list[DispatchCommand]]],
) -> None:
    events, sent = book
    found = []
    for debtor, commands in sent.items():
        if len(commands) < 2:
            continue
        # What hearing the first send's failure decides once the others were
        # accepted: some fallback, for the debtor this test needs.
        folder = orchestrating(FixedClock(NOW))
        store: Store = {}
        for event in events:
            step(folder, store, event)
        for other in commands[1:]:
            step(folder, store, accepted(other))
        expected = step(folder, store, failed(commands[0]))[0]
        if expected:
            found.append((debtor, commands, {str(d.event_id) for d in expected}))
            break
    assert found, "no debtor with a fallback after its first failure"
    debtor, commands, expected_ids = found[0]

    clock = FixedClock(NOW)
    folder = orchestrating(clock)
    store = {}
    for event in events:
        step(folder, store, event)
    out = folder(failed(commands[0]), debtor, 0, None, DictState(store, debtor))
    assert out.outputs is not None and not out.outputs.decisions, "heard before the others"
    assert store[(debtor, HEARD_KEY)], "held in the store"
    # The timer wakes the debtor once the others have waited long enough...
    assert out.timer_changed and out.timer == int(NOW.timestamp() * 1000) + OUTCOME_WAIT_MS
    clock.at = NOW + timedelta(milliseconds=OUTCOME_WAIT_MS)
    wake = Timer(occurred_at=clock.at, source="recaudo.timers", debtor_id=debtor, due_at=clock.at)
    decisions, _ = step(folder, store, wake)
    # ... and the failure is heard then, as it would have been at once.
    assert {str(d.event_id) for d in decisions} >= expected_ids
    assert store[(debtor, HEARD_KEY)] == b""
