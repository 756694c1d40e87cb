"""A seeded, day-stepped collections simulator for comparing contact policies.

Debtor personas have hidden channel, send-window and tone preferences that are
correlated with what the view shows (age band, country, engagement history,
bucket); their chance to reply and to pay falls with contact fatigue, and an
opt-out becomes likelier with it. Every contact a policy chooses is among the
actions :func:`recaudo.learning.actions.allowed_actions` returns, and is
re-checked independently with :func:`recaudo.policy.evaluate` to count
violations. Two policies: the static strategy (the cadence's channel order as
:class:`recaudo.orchestration.channel_choice.EngagementChooser` sorts it, sent
at the earliest allowed instant in the cadence's tone) and the learner
(:class:`recaudo.learning.bandit.Bandit`, learning online from
:func:`recaudo.learning.rewards.join_rewards`).

Everything random comes from ``random.Random`` seeded by the caller, so the
same seed gives the same book, the same personas and the same answers.
"""

from __future__ import annotations

import math
import random
import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeVar, get_args

from recaudo.contracts.records import (
    CHANNELS,
    AccountView,
    Bucket,
    Channel,
    ChannelView,
    DebtorView,
)
from recaudo.demo.portfolio import accounts_of, debtors
from recaudo.learning.actions import (
    DEFAULT_VARIANTS,
    DEFAULT_WINDOWS,
    MIN_SEND,
    Action,
    AllowedAction,
    StepRequest,
    allowed_actions,
    candidate_actions,
)
from recaudo.learning.bandit import Bandit, LearnerConfig, Wait
from recaudo.learning.features import Features, context_features
from recaudo.learning.rewards import (
    DEFAULT_CHANNEL_COST,
    DEFAULT_WEIGHTS,
    LoggedDecision,
    Outcome,
    RewardConfig,
    join_rewards,
)
from recaudo.orchestration.channel_choice import EngagementChooser
from recaudo.orchestration.strategy import Cadence, Step, Strategy, TriggerKind, load_strategy
from recaudo.policy import PRESETS, Candidate, Contact, DebtState, PolicyContext, evaluate
from recaudo.view import ChannelEngagement

K = TypeVar("K")
Mix = Literal["default", "static-right"]
MIXES: Final[tuple[Mix, ...]] = get_args(Mix)
PolicyName = Literal["static", "learned"]
AGE_BANDS: Final[tuple[str, ...]] = ("18-29", "30-49", "50+")
WINDOW_NAMES: Final[tuple[str, ...]] = tuple(w.name for w in DEFAULT_WINDOWS)
#: the book's daily decision instant (morning in the Americas' zones)
DECISION_HOUR_UTC: Final = 14
#: the learner waits this long for a decision's outcomes before learning from it
ATTRIBUTION: Final = timedelta(days=3)
#: illustrative fixed rates, so amounts in several currencies can be summed
USD_CENTS_PER_MINOR: Final[Mapping[str, float]] = {
    "COP": 1 / 4000,
    "MXN": 1 / 17,
    "BRL": 1 / 5,
    "USD": 1.0,
    "CLP": 100 / 900,
    "PEN": 1 / 3.7,
}

# Hidden preferences, conditioned on what the view shows (rows sum to 1).
CHANNEL_BY_AGE: Final[Mapping[str, Mapping[Channel, float]]] = {
    "18-29": {"whatsapp": 0.6, "sms": 0.2, "email": 0.1, "voice": 0.1},
    "30-49": {"email": 0.45, "whatsapp": 0.25, "sms": 0.2, "voice": 0.1},
    "50+": {"voice": 0.55, "sms": 0.25, "email": 0.15, "whatsapp": 0.05},
}
WINDOW_BY_AGE: Final[Mapping[str, Mapping[str, float]]] = {
    "18-29": {"evening": 0.6, "afternoon": 0.2, "midday": 0.1, "morning": 0.1},
    "30-49": {"midday": 0.5, "evening": 0.2, "morning": 0.15, "afternoon": 0.15},
    "50+": {"morning": 0.6, "midday": 0.2, "afternoon": 0.1, "evening": 0.1},
}
VARIANT_BY_BUCKET: Final[Mapping[str, Mapping[str, float]]] = {
    "early": {"soft": 0.7, "neutral": 0.2, "firm": 0.1},
    "mid": {"neutral": 0.6, "soft": 0.2, "firm": 0.2},
    "late": {"firm": 0.6, "neutral": 0.3, "soft": 0.1},
}
#: how much a response falls off when a part of the action is not the preferred one
CHANNEL_MISS: Final = 0.35
WINDOW_MISS: Final = 0.6
VARIANT_MISS: Final = 0.75


def bucket_of(dpd: int) -> Bucket:
    if dpd <= 0:
        return "CURRENT"
    if dpd <= 30:
        return "DPD_1_30"
    if dpd <= 60:
        return "DPD_31_60"
    if dpd <= 90:
        return "DPD_61_90"
    return "DPD_90_PLUS"


def stage_of(bucket: Bucket) -> str:
    return {"CURRENT": "early", "DPD_1_30": "early", "DPD_31_60": "mid"}.get(bucket, "late")


@dataclass(frozen=True, slots=True)
class Persona:
    """What the simulator knows about a debtor and no policy sees."""

    best_channel: Channel
    best_window: str
    best_variant: str
    #: chance to pay after one well-chosen contact, unfatigued
    propensity: float
    reply_rate: float
    #: how fast responses fall with the contacts of the last 7 days
    fatigue: float
    #: chance per day of paying without any contact
    self_cure: float
    #: chance of an opt-out after one contact, unfatigued
    opt_out: float

    def response_factor(self, action: Action, recent_contacts: int) -> float:
        """The share of the best response this action gets after ``recent_contacts``."""
        factor = 1.0 if action.channel == self.best_channel else CHANNEL_MISS
        factor *= 1.0 if action.window.name == self.best_window else WINDOW_MISS
        factor *= 1.0 if action.variant == self.best_variant else VARIANT_MISS
        return factor * math.exp(-self.fatigue * recent_contacts)

    def opt_out_chance(self, action: Action, recent_contacts: int) -> float:
        mismatch = 1.0 if action.channel == self.best_channel else 2.0
        return min(0.5, self.opt_out * mismatch * math.pow(1 + recent_contacts, 1.5))


@dataclass(slots=True)
class ChannelState:
    address: bool
    consent: bool
    valid: bool
    opted_out: bool = False
    sent: int = 0
    delivered: int = 0
    read: int = 0
    replied: int = 0
    failed: int = 0


@dataclass(slots=True)
class Run:
    """One cadence run: its steps, the step reached and what it tried."""

    cadence: Cadence
    started: int
    step: int = 0
    tried: list[Channel] = field(default_factory=list)
    next_day: int = 0
    responded: bool = False


@dataclass(slots=True)
class SimDebtor:
    debtor_id: str
    account_id: str
    jurisdiction: str
    country: str
    time_zone: str
    language: str
    currency: str
    risk: str
    age_band: str
    persona: Persona
    channels: dict[Channel, ChannelState]
    instalment_minor: int
    balance_minor: int
    due_day: int
    payer: bool
    dpd: int
    overdue_minor: int
    history: list[Contact] = field(default_factory=list)
    run: Run | None = None
    pending_payment_day: int | None = None
    ever_delinquent: bool = False
    #: the book's own events and the debtor's answers draw from separate streams
    #: per debtor, so two policies over one seed face the same book and the same luck
    events: random.Random = field(default_factory=random.Random)
    answers: random.Random = field(default_factory=random.Random)

    @property
    def bucket(self) -> Bucket:
        return bucket_of(self.dpd)

    def recent_contacts(self, now: datetime) -> int:
        since = now - timedelta(days=7)
        return sum(c.at >= since for c in self.history)


def _draw(rng: random.Random, table: Mapping[K, float]) -> K:
    return rng.choices(list(table), list(table.values()))[0]


def _usable(table: Mapping[Channel, float], reachable: Sequence[Channel]) -> dict[Channel, float]:
    kept = {c: w for c, w in table.items() if c in reachable}
    return kept or {c: 1.0 for c in reachable} or dict(table)


def build_book(n: int, seed: int, mix: Mix, start: datetime) -> list[SimDebtor]:
    """``n`` debtors from :mod:`recaudo.demo.portfolio`'s markets and accounts, each
    with a hidden persona drawn for ``mix``."""
    if mix not in MIXES:
        raise ValueError(f"unknown persona mix {mix!r}: use one of {MIXES}")
    rng = random.Random(seed * 7919 + 17)  # noqa: S311  # a simulation, not a secret
    book: list[SimDebtor] = []
    strategy = load_strategy()
    for d in debtors(n, seed):
        m = d.market
        terms = accounts_of(d, rng, start)[0]
        age_band = rng.choices(AGE_BANDS, (0.35, 0.4, 0.25))[0]
        channels: dict[Channel, ChannelState] = {}
        for ch in CHANNELS:
            present = not (ch == "whatsapp" and m.country == "US") and rng.random() < 0.9
            channels[ch] = ChannelState(
                address=present, consent=rng.random() < 0.95, valid=rng.random() < 0.97
            )
        reachable = [c for c, s in channels.items() if s.address and s.valid] or list(CHANNELS)
        dpd = terms.days_past_due
        bucket = bucket_of(dpd)
        risk = rng.choice(("low", "medium", "high"))
        best_channel = _draw(rng, _usable(CHANNEL_BY_AGE[age_band], reachable))
        best_window = _draw(rng, WINDOW_BY_AGE[age_band])
        best_variant = _draw(rng, VARIANT_BY_BUCKET[stage_of(bucket)])
        # The history the view shows: past replies lean to the preferred channel.
        for ch, s in channels.items():
            if not s.address:
                continue
            s.sent = s.delivered = rng.randint(0, 6)
            rate = 0.35 if ch == best_channel else 0.07
            s.read = sum(rng.random() < rate * 1.5 for _ in range(s.delivered))
            s.replied = sum(rng.random() < rate for _ in range(s.delivered))
        risk_scale = {"low": 1.3, "medium": 1.0, "high": 0.7}[risk]
        stage_scale = {"early": 1.0, "mid": 0.75, "late": 0.5}[stage_of(bucket)]
        persona = Persona(
            best_channel=best_channel,
            best_window=best_window,
            best_variant=best_variant,
            propensity=min(0.9, rng.betavariate(2, 5) * risk_scale * stage_scale),
            reply_rate=rng.betavariate(2, 4),
            fatigue=rng.uniform(0.15, 0.5),
            self_cure=rng.uniform(0.0, 0.006),
            opt_out=rng.uniform(0.002, 0.01),
        )
        debtor = SimDebtor(
            debtor_id=d.debtor_id,
            account_id=terms.account_id,
            jurisdiction=m.jurisdiction,
            country=m.country,
            time_zone=d.time_zone,
            language=m.language,
            currency=m.currency,
            risk=risk,
            age_band=age_band,
            persona=persona,
            channels=channels,
            instalment_minor=terms.instalment_minor,
            balance_minor=terms.balance_minor,
            due_day=terms.due_day,
            payer=terms.payer,
            dpd=dpd,
            overdue_minor=terms.instalment_minor * max(1, math.ceil(dpd / 30)) if dpd else 0,
            ever_delinquent=dpd > 0,
            events=random.Random(f"events:{seed}:{d.debtor_id}"),  # noqa: S311
            answers=random.Random(f"answers:{seed}:{d.debtor_id}"),  # noqa: S311
        )
        if mix == "static-right":
            debtor.persona = static_right_persona(debtor, strategy, start)
        book.append(debtor)
    return book


def static_right_persona(debtor: SimDebtor, strategy: Strategy, start: datetime) -> Persona:
    """The persona whose preferences are what the static strategy would send
    first: its channel, its send window and the cadence's tone."""
    cadence = strategy.cadence_for("payment_missed", debtor.bucket, debtor.risk)
    now = start.replace(hour=DECISION_HOUR_UTC)
    allowed = static_allowed(debtor, cadence, now) if cadence else []
    p = debtor.persona
    if not allowed:
        return p
    first = allowed[0].action
    return Persona(
        best_channel=first.channel,
        best_window=first.window.name,
        best_variant=first.variant,
        propensity=p.propensity,
        reply_rate=p.reply_rate,
        fatigue=p.fatigue,
        self_cure=p.self_cure,
        opt_out=p.opt_out,
    )


def view_of(debtor: SimDebtor, now: datetime) -> DebtorView:
    """What the 360-degree view shows of ``debtor``: never its persona."""
    bucket = debtor.bucket
    return DebtorView.model_construct(
        occurred_at=now,
        source="simulation",
        debtor_id=debtor.debtor_id,
        version=1,
        language=debtor.language,
        time_zone=debtor.time_zone,
        country=debtor.country,
        jurisdiction=debtor.jurisdiction,
        risk_segment=debtor.risk,
        preferred_channel=None,
        bucket=bucket,
        max_days_past_due=debtor.dpd,
        accounts=[
            AccountView.model_construct(
                account_id=debtor.account_id,
                status="OPEN",
                currency=debtor.currency,
                balance_minor=debtor.balance_minor,
                overdue_minor=debtor.overdue_minor,
                days_past_due=debtor.dpd,
                bucket=bucket,
            )
        ],
        promises=[],
        disputes=[],
        channels=[
            ChannelView.model_construct(
                channel=ch,
                address="addr" if s.address else None,
                consent=s.consent,
                opted_out=s.opted_out,
                valid=s.valid,
                sent=s.sent,
                delivered=s.delivered,
                read=s.read,
                replied=s.replied,
                failed=s.failed,
            )
            for ch, s in debtor.channels.items()
        ],
    )


def policy_context(debtor: SimDebtor) -> PolicyContext:
    """The policy's context, as the orchestrator builds it from the view."""
    chs = debtor.channels
    return PolicyContext(
        time_zone=debtor.time_zone,
        country=debtor.country,
        jurisdiction=debtor.jurisdiction,
        debts={debtor.account_id: DebtState(status="open")},
        opted_out=frozenset(c for c, s in chs.items() if s.opted_out),
        consent=frozenset(c for c, s in chs.items() if s.consent),
        valid_addresses=frozenset(c for c, s in chs.items() if s.address and s.valid),
        history=tuple(debtor.history),
    )


def engagement_of(debtor: SimDebtor) -> dict[Channel, ChannelEngagement]:
    return {
        ch: ChannelEngagement(
            channel=ch,
            attempts=s.sent,
            sent=s.sent,
            deliveries=s.delivered,
            reads=s.read,
            replies=s.replied,
            failures=s.failed,
            replies_by_block=(0, 0, 0, 0),
            last_attempt_at=None,
            last_reply_at=None,
        )
        for ch, s in debtor.channels.items()
        if s.sent
    }


def _request(debtor: SimDebtor, run: Run) -> StepRequest:
    return StepRequest(debtor.debtor_id, debtor.account_id, run.cadence.trigger, run.step)


def static_allowed(
    debtor: SimDebtor, cadence: Cadence, now: datetime, step: int = 0, tried: Sequence[Channel] = ()
) -> list[AllowedAction]:
    """The static strategy's allowed actions, best first: the step's channels
    in :class:`EngagementChooser` order (untried ones), the cadence's tone,
    the earliest allowed send instant first."""
    steps = cadence.steps("champion")
    chosen_step: Step = steps[min(step, len(steps) - 1)]
    view = view_of(debtor, now)
    order = [
        ch
        for ch in EngagementChooser().order(chosen_step.channels, view, engagement_of(debtor))
        if ch not in tried
    ]
    actions = [Action(ch, w, cadence.tone) for ch in order for w in DEFAULT_WINDOWS]
    request = StepRequest(debtor.debtor_id, debtor.account_id, cadence.trigger, step)
    allowed = allowed_actions(
        policy_context(debtor), request, actions, now, PRESETS[debtor.jurisdiction]
    )
    rank = {ch: i for i, ch in enumerate(order)}
    return sorted(allowed, key=lambda a: (rank[a.action.channel], a.send_at))


@dataclass(slots=True)
class Metrics:
    debtors: int = 0
    delinquent: int = 0
    cured: int = 0
    contacts: int = 0
    recovered_minor: int = 0
    cost: float = 0.0
    opt_outs: int = 0
    violations: int = 0
    decisions: int = 0
    #: decisions where the learner chose not to contact
    waits: int = 0
    decision_ns: int = 0
    #: per simulated week: contacts made, and debtors cured in it
    weekly_contacts: list[int] = field(default_factory=list)
    weekly_cures: list[int] = field(default_factory=list)

    def reach_week(self, week: int) -> None:
        while len(self.weekly_contacts) <= week:
            self.weekly_contacts.append(0)
            self.weekly_cures.append(0)

    @property
    def cure_rate(self) -> float:
        return self.cured / self.delinquent if self.delinquent else 0.0

    @property
    def contacts_per_cure(self) -> float:
        return self.contacts / self.cured if self.cured else math.inf

    @property
    def decision_us(self) -> float:
        return self.decision_ns / self.decisions / 1000 if self.decisions else 0.0


#: the learner's reward in the simulator: a reply weighs more than by default
#: (it is six times likelier than a payment and answers the same preferences, so
#: it teaches them sooner), and every contact is charged for the attention it
#: spends and the fatigue it adds, so not contacting can win
LEARNER_REWARDS: Final = RewardConfig(
    weights={**DEFAULT_WEIGHTS, "reply": 0.5},
    attribution_window=ATTRIBUTION,
    contact_cost=0.05,
    fatigue_cost=0.05,
)


@dataclass(frozen=True, slots=True)
class SimConfig:
    debtors: int = 2000
    days: int = 30
    seed: int = 0
    mix: Mix = "default"
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC)
    learner: LearnerConfig = field(
        default_factory=lambda: LearnerConfig(
            learner_share=1.0, epsilon=0.05, exploration="squarecb", gamma_scale=30.0
        )
    )
    rewards: RewardConfig = field(default_factory=lambda: LEARNER_REWARDS)
    #: the channels the learner may pick from: every channel, or the step's only
    #: (then it chooses the order, window and tone within the strategy's channels)
    learner_channels: Literal["all", "step"] = "all"
    #: offer the learner "no contact now" (the step passes without a contact)
    learner_wait: bool = True
    #: describe each action to the learner against the static strategy's choice
    learner_baseline: bool = True


class Simulation:
    """One policy over one seeded book; :meth:`run` steps the days."""

    def __init__(self, config: SimConfig, policy: PolicyName) -> None:
        if policy not in ("static", "learned"):
            raise ValueError(f"unknown policy {policy!r}: use 'static' or 'learned'")
        self.config = config
        self.policy = policy
        self.book = build_book(config.debtors, config.seed, config.mix, config.start)
        self.strategy = load_strategy()
        self.metrics = Metrics(debtors=len(self.book))
        self.all_actions = candidate_actions(CHANNELS, DEFAULT_WINDOWS, DEFAULT_VARIANTS)
        self.bandit = Bandit(config.learner) if policy == "learned" else None
        self._logged: dict[str, _Logged] = {}
        self._decisions: dict[str, list[LoggedDecision]] = {}
        self._outcomes: dict[str, list[Outcome]] = {}
        self._maturing: dict[int, list[tuple[str, str]]] = {}
        self._seq = 0

    def close(self) -> None:
        if self.bandit is not None:
            self.bandit.close()

    def run(self) -> Metrics:
        for day in range(self.config.days):
            self.step_day(day)
        self.metrics.delinquent = sum(d.ever_delinquent for d in self.book)
        self.metrics.cured = sum(d.ever_delinquent and d.overdue_minor == 0 for d in self.book)
        return self.metrics

    # -- one day -------------------------------------------------------

    def step_day(self, day: int) -> None:
        start = self.config.start + timedelta(days=day)
        now = start.replace(hour=DECISION_HOUR_UTC)
        week = day // 7
        self.metrics.reach_week(week)
        for debtor in self.book:
            self.book_events(debtor, day, now, week)
            if debtor.run is not None and debtor.run.next_day <= day and debtor.overdue_minor:
                self._act(debtor, day, now, week)
        self._learn_matured(day)

    def book_events(self, debtor: SimDebtor, day: int, now: datetime, week: int) -> None:
        """One day of the book for one debtor: payments, ageing, instalments
        due or missed, and the cadence they start."""
        if debtor.overdue_minor:
            promised = debtor.pending_payment_day == day
            if promised or debtor.events.random() < debtor.persona.self_cure:
                self._pay(debtor, now, week)
        if debtor.overdue_minor:
            before = debtor.bucket
            debtor.dpd += 1
            if debtor.bucket != before and debtor.run is None:
                self._start(debtor, "bucket_changed", day)
        if now.day == debtor.due_day:
            on_time = 0.9 if debtor.payer else 0.35
            if debtor.overdue_minor == 0 and debtor.events.random() < on_time:
                return
            debtor.overdue_minor += debtor.instalment_minor
            debtor.dpd = max(debtor.dpd, 1)
            debtor.ever_delinquent = True
            if debtor.run is None:
                self._start(debtor, "payment_missed", day)
        if day == 0 and debtor.overdue_minor and debtor.run is None:
            self._start(debtor, "payment_missed", day)

    def _start(self, debtor: SimDebtor, trigger: TriggerKind, day: int) -> None:
        cadence = self.strategy.cadence_for(trigger, debtor.bucket, debtor.risk)
        if cadence is not None:
            debtor.run = Run(cadence=cadence, started=day, next_day=day)

    def _pay(self, debtor: SimDebtor, now: datetime, week: int) -> None:
        amount = debtor.overdue_minor
        self.metrics.recovered_minor += round(amount * USD_CENTS_PER_MINOR[debtor.currency])
        debtor.balance_minor = max(0, debtor.balance_minor - amount)
        debtor.overdue_minor = 0
        debtor.dpd = 0
        debtor.run = None
        debtor.pending_payment_day = None
        self.metrics.reach_week(week)
        self.metrics.weekly_cures[week] += 1
        self._outcome(debtor, "payment", now, None, amount)

    # -- one contact ---------------------------------------------------

    def _act(self, debtor: SimDebtor, day: int, now: datetime, week: int) -> None:
        run = debtor.run
        if run is None:
            return
        steps = run.cadence.steps("champion")
        step = steps[run.step]
        if self.policy == "static":
            allowed = static_allowed(debtor, run.cadence, now, run.step, run.tried)
            chosen: AllowedAction | None = allowed[0] if allowed else None
            decision = None
        else:
            chosen, decision = self.learner_choice(debtor, run, now)
        if chosen is None:
            if decision is None:
                run.next_day = day + 1  # nothing allowed today: the step waits a day
                return
            # The learner chose not to contact: the step passes without a contact.
            self.metrics.waits += 1
            self._log(debtor, decision, None, now, day)
        else:
            self._check(debtor, run, chosen)
            self._send(debtor, run, chosen, now, day, week, decision)
            more_channels = step.fallback_after is not None and len(run.tried) < len(step.channels)
            if not run.responded and more_channels:
                run.next_day = day + max(1, (step.fallback_after or timedelta(days=1)).days)
                return
        run.step += 1
        run.tried = []
        run.responded = False
        if run.step >= len(steps):
            debtor.run = None
        else:
            run.next_day = run.started + steps[run.step].offset.days

    def learner_choice(
        self, debtor: SimDebtor, run: Run, now: datetime
    ) -> tuple[AllowedAction | None, str | None]:
        if self.bandit is None:
            raise RuntimeError("the learner policy needs a bandit")
        step_channels = run.cadence.steps("champion")[run.step].channels
        actions = [
            a
            for a in self.all_actions
            if a.channel not in run.tried
            and (self.config.learner_channels == "all" or a.channel in step_channels)
        ]
        began = _time.perf_counter_ns()
        allowed = allowed_actions(
            policy_context(debtor),
            _request(debtor, run),
            actions,
            now,
            PRESETS[debtor.jurisdiction],
        )
        if not allowed:
            return None, None
        tried = tuple(run.tried)
        baseline = None
        if self.config.learner_baseline:
            static = static_allowed(debtor, run.cadence, now, run.step, run.tried)
            baseline = static[0].action if static else None
            # The static choice first: an untrained model, indifferent, takes the first option.
            allowed.sort(key=lambda a: a.action != baseline)
        features = learner_features(debtor, now, tried)
        self._seq += 1
        decision_id = f"{self.config.seed}:{debtor.debtor_id}:{self._seq}"
        wait = self.config.learner_wait
        if wait:
            choice = self.bandit.choose_or_wait(
                decision_id, features, allowed, tried, baseline=baseline
            )
        else:
            choice = self.bandit.choose(decision_id, features, allowed, tried, baseline=baseline)
        self.metrics.decision_ns += _time.perf_counter_ns() - began
        self.metrics.decisions += 1
        self._logged[decision_id] = _Logged(
            features, choice.actions, choice.index, choice.probability, tried, baseline, wait
        )
        if isinstance(choice, Wait):
            return None, decision_id
        return allowed[choice.index], decision_id

    def _check(self, debtor: SimDebtor, run: Run, chosen: AllowedAction) -> None:
        """Re-check the chosen action with the policy engine, independently of
        how the policy found it."""
        candidate = Candidate(
            debtor.debtor_id,
            debtor.account_id,
            chosen.action.channel,
            run.cadence.trigger,
            run.step,
        )
        verdict = evaluate(
            policy_context(debtor),
            candidate,
            chosen.send_at,
            PRESETS[debtor.jurisdiction],
            min_send=MIN_SEND,
        )
        if verdict.outcome != "DISPATCH":
            self.metrics.violations += 1

    def _send(
        self,
        debtor: SimDebtor,
        run: Run,
        chosen: AllowedAction,
        now: datetime,
        day: int,
        week: int,
        decision_id: str | None,
    ) -> None:
        action, at = chosen.action, chosen.send_at
        recent = debtor.recent_contacts(at)
        debtor.history.append(Contact(at, action.channel, debtor.account_id))
        debtor.history = [c for c in debtor.history if c.at >= at - timedelta(days=31)]
        run.tried.append(action.channel)
        self.metrics.contacts += 1
        self.metrics.reach_week(week)
        self.metrics.weekly_contacts[week] += 1
        self.metrics.cost += DEFAULT_CHANNEL_COST[action.channel]
        state = debtor.channels[action.channel]
        state.sent += 1
        state.delivered += 1
        dispatch_id = decision_id or f"static:{debtor.debtor_id}:{day}:{len(run.tried)}"
        if decision_id is not None:
            self._log(debtor, decision_id, action.channel, at, day, recent)
        p = debtor.persona
        factor = p.response_factor(action, recent)
        world = debtor.answers
        if world.random() < p.reply_rate * factor:
            state.read += 1
            state.replied += 1
            run.responded = True
            self._outcome(debtor, "reply", at + timedelta(hours=1), dispatch_id)
        if debtor.pending_payment_day is None and world.random() < p.propensity * factor:
            run.responded = True
            delay = world.randint(0, ATTRIBUTION.days - 1)
            if delay == 0:
                self._pay(debtor, at + timedelta(hours=2), week)
            else:
                debtor.pending_payment_day = day + delay
                self._outcome(debtor, "promise", at + timedelta(hours=1), dispatch_id)
        if world.random() < p.opt_out_chance(action, recent):
            state.opted_out = True
            self.metrics.opt_outs += 1
            self._outcome(debtor, "opt_out", at + timedelta(hours=1), dispatch_id)

    def _log(
        self,
        debtor: SimDebtor,
        decision_id: str,
        channel: Channel | None,
        at: datetime,
        day: int,
        recent: int = 0,
    ) -> None:
        """Log a learner decision (``channel`` None: no contact) to be
        rewarded once its attribution window closes."""
        self._decisions.setdefault(debtor.debtor_id, []).append(
            LoggedDecision(decision_id, decision_id, debtor.debtor_id, channel, at, recent)
        )
        self._maturing.setdefault(day + ATTRIBUTION.days, []).append(
            (decision_id, debtor.debtor_id)
        )

    def _outcome(
        self,
        debtor: SimDebtor,
        kind: str,
        at: datetime,
        dispatch_id: str | None,
        amount: int = 0,
    ) -> None:
        if self.bandit is None:
            return
        self._seq += 1
        self._outcomes.setdefault(debtor.debtor_id, []).append(
            Outcome(f"o{self._seq}", kind, debtor.debtor_id, at, dispatch_id, amount)  # type: ignore[arg-type]
        )

    def _learn_matured(self, day: int) -> None:
        """Teach the learner every decision whose attribution window has closed,
        with the reward :func:`join_rewards` gives it."""
        if self.bandit is None:
            return
        for decision_id, debtor_id in self._maturing.pop(day, []):
            rewards = join_rewards(
                self._decisions.get(debtor_id, []),
                self._outcomes.get(debtor_id, []),
                self.config.rewards,
            )
            logged = self._logged.pop(decision_id)
            self.bandit.learn(
                logged.features,
                logged.actions,
                logged.index,
                rewards[decision_id].value,
                logged.probability,
                logged.tried,
                baseline=logged.baseline,
                wait=logged.wait,
            )


@dataclass(frozen=True, slots=True)
class _Logged:
    """What the learner was shown for one decision, kept until it is rewarded."""

    features: Features
    actions: tuple[Action, ...]
    index: int
    probability: float
    tried: tuple[Channel, ...]
    baseline: Action | None
    wait: bool


def learner_features(debtor: SimDebtor, now: datetime, tried: Sequence[Channel]) -> Features:
    """The view's features plus the debtor's age band (a profile attribute the
    view does not carry)."""
    base = context_features(view_of(debtor, now), debtor.account_id, now, tried)
    # The contact history is the orchestrator's too (the policy counts it).
    recent = round(math.log1p(debtor.recent_contacts(now)), 4)
    return Features((*base.shared, ("age_band", debtor.age_band), ("recent_7d", recent)))


def simulate(config: SimConfig, policy: PolicyName) -> Metrics:
    sim = Simulation(config, policy)
    try:
        return sim.run()
    finally:
        sim.close()


def best_action(
    debtor: SimDebtor, allowed: Sequence[AllowedAction], now: datetime
) -> AllowedAction:
    """The allowed action the persona answers best (ties: the first)."""
    recent = debtor.recent_contacts(now)
    return max(allowed, key=lambda a: debtor.persona.response_factor(a.action, recent))


#: the buckets a delinquent debtor can roll from, in order
ROLLING_BUCKETS: Final[tuple[Bucket, ...]] = ("DPD_1_30", "DPD_31_60", "DPD_61_90")


@dataclass(frozen=True, slots=True)
class RiskCase:
    """One stay in a bucket: what the view showed when it began, and how it
    ended (rolled into the next bucket, or cured first)."""

    debtor_id: str
    day: int
    bucket: Bucket
    view: DebtorView
    account_id: str
    rolled: bool


def risk_cases(config: SimConfig, policy: PolicyName = "static") -> list[RiskCase]:
    """Every stay in a rolling bucket that ended within the run under
    ``policy``, with the view at its first day (stays still open at the end
    are left out: their outcome is unknown)."""
    sim = Simulation(config, policy)
    open_cases: dict[str, tuple[int, Bucket, DebtorView]] = {}
    cases: list[RiskCase] = []
    try:
        for day in range(config.days):
            now = (config.start + timedelta(days=day)).replace(hour=DECISION_HOUR_UTC)
            for d in sim.book:
                case = open_cases.get(d.debtor_id)
                if case is not None:
                    began, bucket, view = case
                    ended = d.overdue_minor == 0 or d.bucket != bucket
                    if ended:
                        rolled = d.overdue_minor > 0
                        cases.append(
                            RiskCase(d.debtor_id, began, bucket, view, d.account_id, rolled)
                        )
                        del open_cases[d.debtor_id]
                if (
                    d.debtor_id not in open_cases
                    and d.overdue_minor
                    and d.bucket in ROLLING_BUCKETS
                ):
                    open_cases[d.debtor_id] = (day, d.bucket, view_of(d, now))
            sim.step_day(day)
    finally:
        sim.close()
    return cases
