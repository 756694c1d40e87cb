"""Online learning from the pipeline's own records: the learner's dispatched
decisions wait for their attribution window to close, then each is learnt
once with the reward :func:`~recaudo.learning.rewards.join_rewards` gives it
from the outcomes that arrived meanwhile.

Pure: time is the latest event time seen (never the wall clock), so a replay
of the same records learns the same. Idempotent: decisions and outcomes are
known by their event ids; a redelivered one changes nothing, and a decision
already learnt is remembered (for two windows) and never learnt again. The
whole ledger encodes to bytes, saved with each model snapshot, so a restart
resumes where the snapshot was taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson

from recaudo.contracts.records import (
    ChannelResponse,
    ContactDecision,
    DebtEvent,
    Envelope,
    LearningChoice,
)
from recaudo.learning.bandit import Bandit
from recaudo.learning.decision_record import actions_of, features_of
from recaudo.learning.evaluate import LoggedStep
from recaudo.learning.rewards import (
    LoggedDecision,
    Outcome,
    OutcomeKind,
    RewardConfig,
    join_rewards,
)
from recaudo.view.contacts import is_opt_out
from recaudo.view.timebase import from_ms, to_ms

LAYOUT: Final = 1

#: debt events that are outcomes, and the kind each is
DEBT_OUTCOMES: Final[dict[str, OutcomeKind]] = {
    "PAYMENT_RECEIVED": "payment",
    "PROMISE_TO_PAY": "promise",
    "PAYMENT_PLAN_AGREED": "promise",
}


def outcomes_of(event: Envelope) -> list[Outcome]:
    """What ``event`` tells the learner: a reply or an opt-out to a dispatch,
    a payment or a promise on the debtor's account."""
    if isinstance(event, ChannelResponse):
        if event.status not in ("REPLIED", "CALL_RIGHT_PARTY"):
            return []
        kind: OutcomeKind = "opt_out" if is_opt_out(event.text) else "reply"
        return [
            Outcome(
                str(event.event_id), kind, event.debtor_id, event.occurred_at, event.dispatch_id
            )
        ]
    if isinstance(event, DebtEvent) and event.type in DEBT_OUTCOMES:
        amount = getattr(event.payload, "amount_minor", 0) or 0
        return [
            Outcome(
                str(event.event_id),
                DEBT_OUTCOMES[event.type],
                event.debtor_id,
                event.occurred_at,
                amount_minor=amount,
            )
        ]
    return []


@dataclass(frozen=True, slots=True)
class Matured:
    """A decision whose window closed, with its reward: ready to be learnt."""

    decision: LoggedDecision
    record: LearningChoice
    reward: float


@dataclass(slots=True)
class RewardLedger:
    """Decisions waiting for their reward, the outcomes that may earn it, and
    the decisions already learnt."""

    config: RewardConfig = field(default_factory=RewardConfig)
    pending: dict[str, tuple[LoggedDecision, LearningChoice]] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    #: decision id -> when it was decided (ms), kept as long as a redelivery
    #: of it could be taken (two windows)
    learned: dict[str, int] = field(default_factory=dict)
    #: the latest event time seen (ms)
    clock: int = 0

    @property
    def window_ms(self) -> int:
        return int(self.config.attribution_window.total_seconds() * 1000)

    def see(self, at: datetime) -> None:
        self.clock = max(self.clock, to_ms(at))

    def add_decision(self, decision: ContactDecision) -> bool:
        """Keep a dispatch the learner chose; False for anything else or one already known."""
        record = decision.learning
        self.see(decision.occurred_at)
        if (
            decision.outcome != "DISPATCHED"
            or record is None
            or record.arm != "learner"
            or record.chosen is None
            or record.probability_ppb is None
            or decision.dispatch_id is None
            or decision.channel is None
        ):
            return False
        key = str(decision.event_id)
        if key in self.pending or key in self.learned:
            return False
        if to_ms(decision.occurred_at) < self.clock - 2 * self.window_ms:
            return False  # too late: its outcomes are gone, and so is the memory of it
        logged = LoggedDecision(
            key, decision.dispatch_id, decision.debtor_id, decision.channel, decision.occurred_at
        )
        self.pending[key] = (logged, record)
        return True

    def add_outcome(self, outcome: Outcome) -> bool:
        self.see(outcome.at)
        if outcome.outcome_id in self.outcomes:
            return False
        self.outcomes[outcome.outcome_id] = outcome
        return True

    def mature(self) -> list[Matured]:
        """The decisions whose attribution window has closed, each with its
        reward, in decision order; they leave the ledger, remembered as learnt."""
        window = self.window_ms
        due = sorted(
            (d for d, _ in self.pending.values() if to_ms(d.decided_at) + window <= self.clock),
            key=lambda d: (d.decided_at, d.decision_id),
        )
        if not due:
            return []
        # Every pending decision takes part, so a payment goes to the latest
        # decision before it, matured or not.
        rewards = join_rewards(
            (d for d, _ in self.pending.values()), self.outcomes.values(), self.config
        )
        out = []
        for d in due:
            _, record = self.pending.pop(d.decision_id)
            self.learned[d.decision_id] = to_ms(d.decided_at)
            out.append(Matured(d, record, rewards[d.decision_id].value))
        self._forget(window)
        return out

    def _forget(self, window: int) -> None:
        """Drop outcomes no pending decision can earn and learnt ids too old to be redelivered."""
        # A window back as well: a decision read after its outcomes (another
        # partition behind) still finds them.
        oldest = min((to_ms(d.decided_at) for d, _ in self.pending.values()), default=self.clock)
        keep = min(oldest, self.clock - window)
        self.outcomes = {k: o for k, o in self.outcomes.items() if to_ms(o.at) >= keep}
        floor = self.clock - 2 * window
        self.learned = {k: at for k, at in self.learned.items() if at >= floor}

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "v": LAYOUT,
                "clock": self.clock,
                "learned": self.learned,
                "pending": [
                    [_decision_json(d), r.model_dump(mode="json")] for d, r in self.pending.values()
                ],
                "outcomes": [_outcome_json(o) for o in self.outcomes.values()],
            }
        )

    @classmethod
    def decode(cls, data: bytes, config: RewardConfig) -> RewardLedger:
        raw = orjson.loads(data)
        if raw.get("v") != LAYOUT:
            raise ValueError(f"learner ledger layout {raw.get('v')} is not one this recaudo reads")
        pending = {}
        for d_json, r_json in raw["pending"]:
            d = LoggedDecision(
                d_json["id"],
                d_json["dispatch"],
                d_json["debtor"],
                d_json["channel"],
                from_ms(d_json["at"]),
            )
            pending[d.decision_id] = (d, LearningChoice.model_validate(r_json))
        outcomes = {
            o["id"]: Outcome(
                o["id"], o["kind"], o["debtor"], from_ms(o["at"]), o["dispatch"], o["amount"]
            )
            for o in raw["outcomes"]
        }
        return cls(config, pending, outcomes, dict(raw["learned"]), int(raw["clock"]))


def teach(bandit: Bandit, matured: Iterable[Matured]) -> int:
    """Learn each matured decision with its reward; the number learnt."""
    n = 0
    for m in matured:
        record = m.record
        if record.chosen is None or record.probability is None:
            continue  # add_decision keeps only complete choices
        bandit.learn(
            features_of(record),
            actions_of(record),
            record.chosen,
            m.reward,
            record.probability,
            record.tried,
        )
        n += 1
    return n


def replay_log(events: Iterable[Envelope], config: RewardConfig) -> list[Matured]:
    """The learner's decisions in ``events`` whose windows have closed, each
    with its reward, as the learner service learnt them: events taken in
    event-time order (ties: decisions first), maturing as time passes."""
    ledger = RewardLedger(config)
    out: list[Matured] = []
    ordered = sorted(
        events, key=lambda e: (e.occurred_at, not isinstance(e, ContactDecision), str(e.event_id))
    )
    for event in ordered:
        if isinstance(event, ContactDecision):
            ledger.add_decision(event)
        else:
            for outcome in outcomes_of(event):
                ledger.add_outcome(outcome)
            ledger.see(event.occurred_at)
        out.extend(ledger.mature())
    return out


def logged_step(m: Matured) -> LoggedStep | None:
    """A matured decision for off-policy evaluation (None: not a complete choice)."""
    record = m.record
    if record.chosen is None or record.probability is None:
        return None
    return LoggedStep(
        features=features_of(record),
        actions=actions_of(record),
        chosen=record.chosen,
        probability=record.probability,
        reward=m.reward,
        tried=tuple(record.tried),
    )


def _decision_json(d: LoggedDecision) -> dict[str, Any]:
    return {
        "id": d.decision_id,
        "dispatch": d.dispatch_id,
        "debtor": d.debtor_id,
        "channel": d.channel,
        "at": to_ms(d.decided_at),
    }


def _outcome_json(o: Outcome) -> dict[str, Any]:
    return {
        "id": o.outcome_id,
        "kind": o.kind,
        "debtor": o.debtor_id,
        "at": to_ms(o.at),
        "dispatch": o.dispatch_id,
        "amount": o.amount_minor,
    }
