"""Declarative contact strategies: cadences per segment, steps, champion /
challenger arms. Loaded from TOML; :data:`DEFAULT_STRATEGY_FILE` ships with
recaudo and ``RECAUDO_STRATEGY_FILE`` replaces it.

A cadence answers one trigger for one segment (days-past-due buckets by risk
segments) with a list of steps per arm. A step waits ``offset`` after the
trigger, tries ``channels`` in order (reordered by the channel chooser), and
falls back to the next channel when the contact fails or gets no response
within ``fallback_after``.

``[[negotiation]]`` tables bound what a conversation may offer or accept per
segment (buckets, risk segments, countries; the first table that matches
wins, none: recaudo negotiates nothing and hands the debtor to a person).
Shares are written as fractions (0.1 is 10 %) and kept as basis points, so
every amount computed from them is integer arithmetic on minor units.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final, Literal, get_args

from recaudo.contracts.money import MINOR_UNITS
from recaudo.contracts.records import CHANNELS, Bucket, Channel, PlanFrequency

TriggerKind = Literal[
    "instalment_due", "payment_missed", "bucket_changed", "promise_broken", "reply_received"
]
TRIGGERS: Final[tuple[TriggerKind, ...]] = get_args(TriggerKind)
BUCKETS: Final[tuple[Bucket, ...]] = get_args(Bucket)
Arm = Literal["champion", "challenger"]
Tone = Literal["soft", "neutral", "firm"]
TONES: Final[tuple[Tone, ...]] = get_args(Tone)

DEFAULT_STRATEGY_FILE: Final = "default_strategy.toml"


class StrategyError(ValueError):
    """A strategy file that does not say what recaudo needs; names the path."""


@dataclass(frozen=True, slots=True)
class Step:
    offset: timedelta
    channels: tuple[Channel, ...]
    template: str
    fallback_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Cadence:
    id: str
    trigger: TriggerKind
    champion: tuple[Step, ...]
    challenger: tuple[Step, ...] = ()
    #: share of debtors on the challenger arm, by a stable hash of the debtor
    challenger_share: float = 0.0
    buckets: frozenset[Bucket] = frozenset()
    risks: frozenset[str] = frozenset()
    tone: Tone = "neutral"
    #: instalment_due only: how long before the due date the cadence starts
    days_before: int = 0

    def matches(self, trigger: TriggerKind, bucket: Bucket, risk: str | None) -> bool:
        return (
            self.trigger == trigger
            and (not self.buckets or bucket in self.buckets)
            and (not self.risks or (risk or "") in self.risks)
        )

    def steps(self, arm: Arm) -> tuple[Step, ...]:
        return self.challenger if arm == "challenger" and self.challenger else self.champion


#: basis points in a whole (10 000 bp = 100 %)
WHOLE_BP: Final = 10_000
FREQUENCIES: Final[tuple[PlanFrequency, ...]] = get_args(PlanFrequency)


@dataclass(frozen=True, slots=True)
class NegotiationBounds:
    """What a conversation may offer or accept for one segment."""

    id: str
    max_instalments: int
    #: the first instalment is at least this share of what the plan pays ...
    min_first_payment_bp: int = 0
    #: ... and at least this amount per currency (capped by what the plan pays)
    min_first_payment_minor: Mapping[str, int] | None = None
    #: a promise pays at least this share of the overdue amount
    min_promise_bp: int = WHOLE_BP
    #: a promised date (and a plan's first due date) at most this many days ahead
    max_promise_days: int = 7
    #: DPD_90_PLUS only: the largest settlement discount on the balance (0: none)
    max_settlement_discount_bp: int = 0
    frequency: PlanFrequency = "MONTHLY"
    #: an offer the debtor has not answered within this lapses (silence)
    offer_expires_after: timedelta = timedelta(hours=48)
    buckets: frozenset[Bucket] = frozenset()
    risks: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()

    def matches(self, bucket: Bucket, risk: str | None, country: str | None) -> bool:
        return (
            (not self.buckets or bucket in self.buckets)
            and (not self.risks or (risk or "") in self.risks)
            and (not self.countries or (country or "") in self.countries)
        )

    def min_first_payment(self, total: int, currency: str) -> int:
        """The least first instalment of a plan paying ``total`` (rounded up)."""
        share = -(-total * self.min_first_payment_bp // WHOLE_BP)
        floor = (self.min_first_payment_minor or {}).get(currency, 0)
        return min(total, max(share, floor))

    def min_promise(self, overdue: int) -> int:
        """The least a promise may pay of ``overdue`` (rounded up)."""
        return -(-overdue * self.min_promise_bp // WHOLE_BP)


@dataclass(frozen=True, slots=True)
class Strategy:
    id: str
    cadences: tuple[Cadence, ...]
    #: a notice (account, template) sent on any channel is not sent again,
    #: on any channel, within this window (its own fallbacks excepted)
    dedup_window: timedelta = timedelta(hours=24)
    #: a dispatch not sent within this is EXPIRED (capped by the window close)
    expiry: timedelta = timedelta(hours=4)
    #: a payment_missed, bucket_changed, promise_broken or reply_received
    #: trigger read longer than this after it happened (event time) starts
    #: no contact: it is history, not news
    stale_after: timedelta = timedelta(days=3)
    negotiation: tuple[NegotiationBounds, ...] = ()

    def bounds_for(
        self, bucket: Bucket, risk: str | None, country: str | None
    ) -> NegotiationBounds | None:
        """The first ``[[negotiation]]`` table, in file order, for this segment."""
        for bounds in self.negotiation:
            if bounds.matches(bucket, risk, country):
                return bounds
        return None

    def cadence_for(self, trigger: TriggerKind, bucket: Bucket, risk: str | None) -> Cadence | None:
        """The first cadence, in file order, for this trigger and segment."""
        for cadence in self.cadences:
            if cadence.matches(trigger, bucket, risk):
                return cadence
        return None

    def cadence(self, cadence_id: str) -> Cadence | None:
        for cadence in self.cadences:
            if cadence.id == cadence_id:
                return cadence
        return None


def arm_for(debtor_id: str, cadence: Cadence) -> Arm:
    """Champion or challenger, stable for a debtor and cadence across
    processes, restarts and Python versions (no ``hash()``)."""
    if cadence.challenger_share <= 0 or not cadence.challenger:
        return "champion"
    digest = hashlib.sha256(f"{cadence.id}\x1f{debtor_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    return "challenger" if point < cadence.challenger_share else "champion"


# --- loading -----------------------------------------------------------------------


def _duration(value: object, path: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if isinstance(value, str) and len(value) > 1 and value[-1] in units:
        try:
            amount = float(value[:-1])
        except ValueError:
            amount = -1
        if amount >= 0:
            return timedelta(seconds=amount * units[value[-1]])
    raise StrategyError(f'{path}: expected a duration such as "30m", "24h" or "3d", got {value!r}')


def _strings(value: object, path: str, allowed: Sequence[str] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StrategyError(f"{path}: expected a list of strings, got {value!r}")
    if allowed is not None:
        bad = [v for v in value if v not in allowed]
        if bad:
            raise StrategyError(f"{path}: unknown {bad}; expected some of {list(allowed)}")
    return tuple(value)


def _table(value: object, path: str, keys: frozenset[str]) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise StrategyError(f"{path}: expected a table, got {type(value).__name__}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise StrategyError(f"{path}: unknown keys {unknown}; expected some of {sorted(keys)}")
    return value


def _step(value: object, path: str) -> Step:
    t = _table(value, path, frozenset({"offset", "channels", "template", "fallback_after"}))
    for required in ("channels", "template"):
        if required not in t:
            raise StrategyError(f"{path}: missing {required!r}")
    channels = _strings(t["channels"], f"{path}.channels", CHANNELS)
    if not channels:
        raise StrategyError(f"{path}.channels: at least one channel")
    template = t["template"]
    if not isinstance(template, str) or not template:
        raise StrategyError(f"{path}.template: expected a template name")
    fallback = t.get("fallback_after")
    return Step(
        offset=_duration(t.get("offset", "0s"), f"{path}.offset"),
        channels=channels,  # type: ignore[arg-type]  # checked against CHANNELS
        template=template,
        fallback_after=None if fallback is None else _duration(fallback, f"{path}.fallback_after"),
    )


_CADENCE_KEYS: Final = frozenset(
    {
        "id",
        "trigger",
        "champion",
        "challenger",
        "challenger_share",
        "buckets",
        "risks",
        "tone",
        "days_before",
    }
)


def _cadence(value: object, path: str) -> Cadence:
    t = _table(value, path, _CADENCE_KEYS)
    cadence_id, trigger = t.get("id"), t.get("trigger")
    if not isinstance(cadence_id, str) or not cadence_id:
        raise StrategyError(f"{path}.id: expected a name")
    if trigger not in TRIGGERS:
        raise StrategyError(f"{path}.trigger: expected one of {list(TRIGGERS)}, got {trigger!r}")
    arms: dict[str, tuple[Step, ...]] = {}
    for arm in ("champion", "challenger"):
        raw = t.get(arm, [])
        if not isinstance(raw, list):
            raise StrategyError(f"{path}.{arm}: expected an array of steps ([[...{arm}]])")
        arms[arm] = tuple(_step(s, f"{path}.{arm}[{i}]") for i, s in enumerate(raw))
    if not arms["champion"]:
        raise StrategyError(f"{path}.champion: a cadence needs at least one step")
    share = t.get("challenger_share", 0.0)
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        raise StrategyError(f"{path}.challenger_share: expected a number in [0, 1]")
    if share and not arms["challenger"]:
        raise StrategyError(f"{path}: challenger_share set but no [[...challenger]] steps")
    tone = t.get("tone", "neutral")
    if tone not in TONES:
        raise StrategyError(f"{path}.tone: expected one of {list(TONES)}, got {tone!r}")
    days_before = t.get("days_before", 0)
    if not isinstance(days_before, int) or days_before < 0:
        raise StrategyError(f"{path}.days_before: expected a whole number of days >= 0")
    return Cadence(
        id=cadence_id,
        trigger=trigger,
        champion=arms["champion"],
        challenger=arms["challenger"],
        challenger_share=float(share),
        buckets=frozenset(_strings(t.get("buckets", []), f"{path}.buckets", BUCKETS)),  # type: ignore[arg-type]
        risks=frozenset(_strings(t.get("risks", []), f"{path}.risks")),
        tone=tone,
        days_before=days_before,
    )


_NEGOTIATION_KEYS: Final = frozenset(
    {
        "id",
        "buckets",
        "risks",
        "countries",
        "max_instalments",
        "min_first_payment_share",
        "min_first_payment_minor",
        "min_promise_share",
        "max_promise_days",
        "max_settlement_discount",
        "frequency",
        "offer_expires_after",
    }
)


def _share_bp(value: object, path: str) -> int:
    """A fraction in [0, 1] as whole basis points (0.125 -> 1250)."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidOperation
        bp = Decimal(str(value)) * WHOLE_BP
    except InvalidOperation:
        bp = Decimal(-1)
    if not 0 <= bp <= WHOLE_BP or bp != bp.to_integral_value():
        raise StrategyError(
            f"{path}: expected a share between 0 and 1 in whole basis points "
            f"(0.1 is 10 %), got {value!r}"
        )
    return int(bp)


def _whole(value: object, path: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise StrategyError(f"{path}: expected a whole number >= {least}, got {value!r}")
    return value


def _negotiation(value: object, path: str) -> NegotiationBounds:
    t = _table(value, path, _NEGOTIATION_KEYS)
    bounds_id = t.get("id")
    if not isinstance(bounds_id, str) or not bounds_id:
        raise StrategyError(f"{path}.id: expected a name")
    if "max_instalments" not in t:
        raise StrategyError(f"{path}: missing 'max_instalments' (1: no plans, promises only)")
    raw_minor = t.get("min_first_payment_minor", {})
    minor = _table(raw_minor, f"{path}.min_first_payment_minor", frozenset(MINOR_UNITS))
    first_minor = {
        currency: _whole(amount, f"{path}.min_first_payment_minor.{currency}", 0)
        for currency, amount in minor.items()
    }
    frequency = t.get("frequency", "MONTHLY")
    if frequency not in FREQUENCIES:
        raise StrategyError(
            f"{path}.frequency: expected one of {list(FREQUENCIES)}, got {frequency!r}"
        )
    countries = _strings(t.get("countries", []), f"{path}.countries")
    bad = [c for c in countries if len(c) != 2 or not c.isupper()]
    if bad:
        raise StrategyError(f"{path}.countries: expected ISO-3166 alpha-2 codes, got {bad}")
    return NegotiationBounds(
        id=bounds_id,
        max_instalments=_whole(t["max_instalments"], f"{path}.max_instalments", 1),
        min_first_payment_bp=_share_bp(
            t.get("min_first_payment_share", 0), f"{path}.min_first_payment_share"
        ),
        min_first_payment_minor=first_minor,
        min_promise_bp=_share_bp(t.get("min_promise_share", 1), f"{path}.min_promise_share"),
        max_promise_days=_whole(t.get("max_promise_days", 7), f"{path}.max_promise_days", 0),
        max_settlement_discount_bp=_share_bp(
            t.get("max_settlement_discount", 0), f"{path}.max_settlement_discount"
        ),
        frequency=frequency,
        offer_expires_after=_duration(
            t.get("offer_expires_after", "48h"), f"{path}.offer_expires_after"
        ),
        buckets=frozenset(_strings(t.get("buckets", []), f"{path}.buckets", BUCKETS)),  # type: ignore[arg-type]
        risks=frozenset(_strings(t.get("risks", []), f"{path}.risks")),
        countries=frozenset(countries),
    )


def strategy_from_mapping(data: Mapping[str, object], source: str = "<strategy>") -> Strategy:
    t = _table(
        data,
        source,
        frozenset({"id", "dedup_window", "expiry", "stale_after", "cadence", "negotiation"}),
    )
    strategy_id = t.get("id")
    if not isinstance(strategy_id, str) or not strategy_id:
        raise StrategyError(f"{source}: missing id")
    raw = t.get("cadence", [])
    if not isinstance(raw, list) or not raw:
        raise StrategyError(f"{source}: at least one [[cadence]]")
    cadences = tuple(_cadence(c, f"{source}: cadence[{i}]") for i, c in enumerate(raw))
    ids = [c.id for c in cadences]
    if len(set(ids)) != len(ids):
        raise StrategyError(f"{source}: cadence ids must be unique, got {ids}")
    raw_bounds = t.get("negotiation", [])
    if not isinstance(raw_bounds, list):
        raise StrategyError(f"{source}: negotiation: expected an array of tables ([[negotiation]])")
    negotiation = tuple(
        _negotiation(b, f"{source}: negotiation[{i}]") for i, b in enumerate(raw_bounds)
    )
    return Strategy(
        id=strategy_id,
        negotiation=negotiation,
        cadences=cadences,
        dedup_window=_duration(t.get("dedup_window", "24h"), f"{source}: dedup_window"),
        expiry=_duration(t.get("expiry", "4h"), f"{source}: expiry"),
        stale_after=_duration(t.get("stale_after", "3d"), f"{source}: stale_after"),
    )


def load_strategy(path: Path | None = None) -> Strategy:
    """The strategy in ``path``, or recaudo's default one."""
    if path is None:
        text = importlib.resources.files(__package__).joinpath(DEFAULT_STRATEGY_FILE).read_text()
        source = DEFAULT_STRATEGY_FILE
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StrategyError(f"cannot read strategy file {path}: {exc.strerror}") from exc
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StrategyError(f"{source}: not valid TOML: {exc}") from exc
    return strategy_from_mapping(data, source)
