"""What the orchestrator keeps per debtor, beside the view: the cadences in
progress, recent contacts (for caps and cooldowns) and recent notices (for
cross-channel dedup). Stored as compact JSON bytes under its own state key.

Everything is bounded: contacts and notices older than :data:`HISTORY_SPAN`
are dropped (no preset looks further back), finished runs are remembered by
key only, the newest :data:`MAX_DONE`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

import orjson

from recaudo.contracts.records import Channel
from recaudo.orchestration.strategy import Arm, TriggerKind

Phase = Literal["step", "await", "profile"]

HISTORY_SPAN_MS: Final = 35 * 24 * 3600 * 1000
MAX_DONE: Final = 64
LAYOUT: Final = 1


@dataclass(slots=True)
class Run:
    """One cadence in progress for one trigger (keyed by the trigger's identity)."""

    key: str
    trigger: TriggerKind
    account_id: str
    trigger_event_id: str | None
    cadence: str
    arm: Arm
    #: steps are offset from here (ms)
    started_at: int
    step: int = 0
    #: "step": try the step's channels from ``channel_idx`` at ``due_at``;
    #: "await": dispatched, wait for a response until ``due_at`` (fallback);
    #: "profile": nothing can be decided until a profile says where and when
    phase: Phase = "step"
    due_at: int = 0
    #: this step's channels in the chooser's order, fixed at its first try
    order: list[Channel] = field(default_factory=list)
    channel_idx: int = 0
    inflight: str | None = None
    responded: bool = False
    #: the last DEFERRED not_before reported, so a deferral is recorded once
    deferred_until: int = 0
    #: trigger facts the templates use (due date, promised date)
    facts: dict[str, str] = field(default_factory=dict)
    #: the learner's choice for this step, until it is sent: its template
    #: variant and its LearningChoice record (JSON), None on the static strategy
    variant: str | None = None
    learned: dict[str, Any] | None = None


@dataclass(slots=True)
class Contact:
    at: int
    channel: Channel
    account_id: str
    dispatch_id: str
    conversation: bool = False


@dataclass(slots=True)
class OrchestrationState:
    runs: dict[str, Run] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    #: "account|template" -> when it was last sent, on any channel
    notices: dict[str, int] = field(default_factory=dict)

    def next_due(self) -> int | None:
        """When a timer must wake this debtor (ms), None when nothing waits on time."""
        dues = [r.due_at for r in self.runs.values() if r.phase != "profile"]
        return min(dues) if dues else None

    def knows(self, key: str) -> bool:
        return key in self.runs or key in self.done

    def finish(self, key: str) -> None:
        self.runs.pop(key, None)
        self.done.append(key)
        del self.done[:-MAX_DONE]

    def trim(self, now_ms: int) -> None:
        floor = now_ms - HISTORY_SPAN_MS
        self.contacts = [c for c in self.contacts if c.at > floor]
        self.notices = {k: at for k, at in self.notices.items() if at > floor}

    def is_empty(self) -> bool:
        return not (self.runs or self.done or self.contacts or self.notices)

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "v": LAYOUT,
                "runs": [asdict(r) for r in self.runs.values()],
                "done": self.done,
                "contacts": [
                    [c.at, c.channel, c.account_id, c.dispatch_id, c.conversation]
                    for c in self.contacts
                ],
                "notices": self.notices,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> OrchestrationState:
        raw = orjson.loads(data)
        if raw.get("v") != LAYOUT:
            raise ValueError(
                f"orchestration state layout {raw.get('v')} is not one this recaudo reads"
            )
        runs = [Run(**r) for r in raw["runs"]]
        return cls(
            runs={r.key: r for r in runs},
            done=list(raw["done"]),
            contacts=[Contact(*c) for c in raw["contacts"]],
            notices=dict(raw["notices"]),
        )
