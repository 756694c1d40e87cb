"""Runs the view and the orchestrator together the way the stream processor
does, without Kafka: fold the event, orchestrate, feed decisions back."""

from __future__ import annotations

import importlib.resources
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from recaudo.contracts.records import ContactDecision, DebtEvent, DispatchCommand, Event
from recaudo.orchestration import OrchestrationState, Orchestrator, Templates, load_strategy
from recaudo.orchestration.strategy import Strategy
from recaudo.orchestration.templates import TEMPLATE_FILE
from recaudo.view import DebtorState, apply, tick

#: the opt-out page the test deployment names in emails
OPT_OUT_PAGE = "https://bank.example/opt-out"


def shipped_catalogue() -> dict[str, Any]:
    text = importlib.resources.files("recaudo.orchestration").joinpath(TEMPLATE_FILE).read_text()
    return tomllib.loads(text)


def with_opt_out_page() -> Templates:
    """The shipped templates, with an opt-out page for email set."""
    catalogue = shipped_catalogue()
    catalogue["opt_out"] = {"email_contact": OPT_OUT_PAGE}
    return Templates(catalogue)


_TEMPLATES = with_opt_out_page()


@dataclass
class Driver:
    orchestrator: Orchestrator = field(
        default_factory=lambda: Orchestrator(load_strategy(), _TEMPLATES)
    )
    state: DebtorState | None = None
    orch: OrchestrationState = field(default_factory=OrchestrationState)
    decisions: list[ContactDecision] = field(default_factory=list)
    dispatches: list[DispatchCommand] = field(default_factory=list)
    #: every event the view derived, in order
    derived: list[Event] = field(default_factory=list)
    #: the "now" of each dispatch's decision, in order
    moments: list[datetime] = field(default_factory=list)

    @classmethod
    def with_strategy(cls, strategy: Strategy) -> Driver:
        return cls(orchestrator=Orchestrator(strategy, _TEMPLATES))

    def event(
        self, event: Event, now: datetime | None = None, *, backfill: bool = False
    ) -> list[DispatchCommand]:
        result = apply(self.state, event)
        self.state = result.state
        if not result.changed:
            return []  # the processor orchestrates only what changed the view
        return self._orchestrate(now or event.occurred_at, event, result.derived, backfill)

    def wake(self, now: datetime) -> list[DispatchCommand]:
        assert self.state is not None
        result = tick(self.state, now)
        return self._orchestrate(now, None, result.derived)

    def _orchestrate(
        self,
        now: datetime,
        event: Event | None,
        derived: list[DebtEvent],
        backfill: bool = False,
    ) -> list[DispatchCommand]:
        assert self.state is not None
        out = self.orchestrator.handle(
            self.orch, self.state, now, event, derived, backfill=backfill
        )
        # Round-trip the state as the store does, so encoding is exercised too.
        self.orch = OrchestrationState.decode(self.orch.encode())
        self.derived.extend(derived)
        for decision in out.decisions:
            result = apply(self.state, decision)
            self.state = result.state
            self.derived.extend(result.derived)
        self.decisions.extend(out.decisions)
        self.dispatches.extend(out.dispatches)
        self.moments.extend(now for _ in out.dispatches)
        return out.dispatches

    def next_due(self) -> int | None:
        return self.orch.next_due()

    def advance(self, until: datetime) -> None:
        """Fire every timer due up to ``until``, at its own time, as the
        processor's timer does."""
        from recaudo.view.timebase import from_ms

        for _ in range(1000):
            due = self.orch.next_due()
            if due is None or from_ms(due) > until:
                return
            self.wake(from_ms(due))
        raise AssertionError("timers keep firing: a run never moves past its due time")
