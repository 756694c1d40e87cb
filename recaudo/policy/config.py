"""Custom rule sets from TOML files, optionally extending a preset.

    id = "acme_co"
    extends = "co_ley_2300"          # optional: start from a preset
    description = "Acme, Colombia: no calls after 18:00"

    [hours.call]                     # days not named are inherited (or closed)
    weekdays = ["07:00-18:00"]       # Monday to Friday; mon..sun override it
    sat = []                         # closed
    closed_on_holidays = true

    [[caps]]                         # same id replaces, a new id adds
    id = "caps.debtor_sms_3d"
    limit = 1
    window = "3d"                    # d, h, m: "36h", "1d12h", "90m"
    kinds = ["message"]
    channels = ["sms"]

    remove_caps = ["caps.debtor_contacts_1d"]   # explicit, never by omission

Every error names the file and the key (``acme.toml: caps[0].window: ...``).
docs/policy.md lists every key.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Final, TypeVar, cast, get_args

from recaudo.policy.caps import Cap, Cooldown, Measure, Scope
from recaudo.policy.model import (
    ALL_CHANNELS,
    ALL_KINDS,
    CHANNELS,
    DEBT_STATUSES,
    KINDS,
    Channel,
    DebtStatus,
    Kind,
)
from recaudo.policy.presets import PRESETS
from recaudo.policy.quiet_hours import DAY_NAMES, WeeklyHours, Window
from recaudo.policy.ruleset import RuleSet
from recaudo.policy.suppression import SuppressionRules, VulnerableMode

_T = TypeVar("_T")
_S = TypeVar("_S", bound=str)

_TOP_KEYS: Final = frozenset(
    {
        "id",
        "extends",
        "description",
        "max_search_days",
        "requires_opt_out_text",
        "extra_holidays",
        "suppress_statuses",
        "consent_required",
        "hours",
        "caps",
        "remove_caps",
        "cooldowns",
        "remove_cooldowns",
        "vulnerable",
    }
)
_HOURS_KEYS: Final = frozenset({"weekdays", "closed_on_holidays", *DAY_NAMES})
_CAP_KEYS: Final = frozenset({"id", "limit", "window", "scope", "kinds", "channels", "measure"})
_COOLDOWN_KEYS: Final = frozenset({"id", "duration", "scope", "kinds", "after_kinds"})
_VULNERABLE_KEYS: Final = frozenset({"mode", "channels", "caps", "remove_caps"})
_DURATION_RE: Final = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)
_MEASURES: Final[tuple[Measure, ...]] = get_args(Measure)
_MODES: Final[tuple[VulnerableMode, ...]] = get_args(VulnerableMode)


class PolicyConfigError(ValueError):
    """A rule-set file is invalid; the message names the file and the key."""


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> PolicyConfigError:
        return PolicyConfigError(f"{self.source}: {path}: {message}")

    def table(self, value: object, path: str, allowed: frozenset[str]) -> Mapping[str, object]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a table, got {type(value).__name__}")
        for key in value:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                raise self.fail(where, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return cast(Mapping[str, object], value)

    def string(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {value!r}")
        return value

    def integer(self, value: object, path: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(path, f"expected an integer >= {minimum}, got {value!r}")
        return value

    def boolean(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {value!r}")
        return value

    def duration(self, value: object, path: str) -> timedelta:
        match = _DURATION_RE.match(value) if isinstance(value, str) else None
        if match is None or not any(match.groups()):
            raise self.fail(path, f"expected a duration like '7d', '48h' or '1d12h', got {value!r}")
        days, hours, minutes = (int(g or 0) for g in match.groups())
        span = timedelta(days=days, hours=hours, minutes=minutes)
        if span <= timedelta(0):
            raise self.fail(path, "a duration must be positive")
        return span

    def array(self, value: object, path: str) -> Sequence[object]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected an array, got {type(value).__name__}")
        return value

    def choice(self, value: object, path: str, choices: tuple[_S, ...]) -> _S:
        if value not in choices:
            raise self.fail(path, f"expected one of {', '.join(choices)}, got {value!r}")
        return choices[choices.index(value)]

    def choices(self, value: object, path: str, choices: tuple[_S, ...]) -> frozenset[_S]:
        items = self.array(value, path)
        return frozenset(self.choice(v, f"{path}[{i}]", choices) for i, v in enumerate(items))

    def channels(self, value: object, path: str) -> frozenset[Channel]:
        return self.choices(value, path, CHANNELS)

    def kinds(self, value: object, path: str) -> frozenset[Kind]:
        return self.choices(value, path, KINDS)

    def dates(self, value: object, path: str) -> frozenset[date]:
        out: set[date] = set()
        for i, item in enumerate(self.array(value, path)):
            if isinstance(item, str):
                with contextlib.suppress(ValueError):
                    item = date.fromisoformat(item)
            if not isinstance(item, date) or hasattr(item, "hour"):
                raise self.fail(f"{path}[{i}]", f"expected a date like 2025-01-25, got {item!r}")
            out.add(item)
        return frozenset(out)

    def windows(self, value: object, path: str) -> tuple[Window, ...]:
        windows = []
        for i, item in enumerate(self.array(value, path)):
            try:
                windows.append(Window.parse(self.string(item, f"{path}[{i}]")))
            except ValueError as error:
                raise self.fail(f"{path}[{i}]", str(error)) from None
        return tuple(sorted(windows))

    def build(self, path: str, make: Callable[[], _T]) -> _T:
        """Constructor-level validation errors, pinned to the key."""
        try:
            return make()
        except PolicyConfigError:
            raise
        except ValueError as error:
            raise self.fail(path, str(error)) from None


def _hours(reader: _Reader, value: object, path: str, base: WeeklyHours | None) -> WeeklyHours:
    table = reader.table(value, path, _HOURS_KEYS)
    days: list[tuple[Window, ...]] = list(base.days) if base is not None else [()] * 7
    closed = base.closed_on_holidays if base is not None else False
    if "weekdays" in table:
        week = reader.windows(table["weekdays"], f"{path}.weekdays")
        days[:5] = [week] * 5
    for index, name in enumerate(DAY_NAMES):
        if name in table:
            days[index] = reader.windows(table[name], f"{path}.{name}")
    if "closed_on_holidays" in table:
        closed = reader.boolean(table["closed_on_holidays"], f"{path}.closed_on_holidays")
    return reader.build(path, lambda: WeeklyHours(tuple(days), closed))


def _cap(reader: _Reader, value: object, path: str) -> Cap:
    table = reader.table(value, path, _CAP_KEYS)
    for key in ("id", "limit", "window"):
        if key not in table:
            raise reader.fail(f"{path}.{key}", "missing")
    rule_id = reader.string(table["id"], f"{path}.id")
    limit = reader.integer(table["limit"], f"{path}.limit", 1)
    window = reader.duration(table["window"], f"{path}.window")
    scope = reader.choice(table.get("scope", "debtor"), f"{path}.scope", _SCOPES)
    kinds = reader.kinds(table["kinds"], f"{path}.kinds") if "kinds" in table else ALL_KINDS
    channels = (
        reader.channels(table["channels"], f"{path}.channels")
        if "channels" in table
        else ALL_CHANNELS
    )
    measure = reader.choice(table.get("measure", "contacts"), f"{path}.measure", _MEASURES)
    return reader.build(path, lambda: Cap(rule_id, limit, window, scope, kinds, channels, measure))


def _cooldown(reader: _Reader, value: object, path: str) -> Cooldown:
    table = reader.table(value, path, _COOLDOWN_KEYS)
    for key in ("id", "duration"):
        if key not in table:
            raise reader.fail(f"{path}.{key}", "missing")
    rule_id = reader.string(table["id"], f"{path}.id")
    duration = reader.duration(table["duration"], f"{path}.duration")
    scope = reader.choice(table.get("scope", "debt"), f"{path}.scope", _SCOPES)
    kinds = reader.kinds(table["kinds"], f"{path}.kinds") if "kinds" in table else ALL_KINDS
    after = (
        reader.kinds(table["after_kinds"], f"{path}.after_kinds")
        if "after_kinds" in table
        else ALL_KINDS
    )
    return reader.build(path, lambda: Cooldown(rule_id, duration, scope, kinds, after))


_R = TypeVar("_R", Cap, Cooldown)


def _merge(
    reader: _Reader,
    base: tuple[_R, ...],
    table: Mapping[str, object],
    key: str,
    remove_key: str,
    parse: Callable[[_Reader, object, str], _R],
    prefix: str = "",
) -> tuple[_R, ...]:
    """Base rules, minus those removed by id, with same-id entries replaced in
    place and new ids appended."""
    rules = list(base)
    if remove_key in table:
        path = f"{prefix}{remove_key}"
        for i, item in enumerate(reader.array(table[remove_key], path)):
            rule_id = reader.string(item, f"{path}[{i}]")
            if not any(r.rule_id == rule_id for r in rules):
                raise reader.fail(f"{path}[{i}]", f"no rule {rule_id!r} to remove")
            rules = [r for r in rules if r.rule_id != rule_id]
    if key in table:
        path = f"{prefix}{key}"
        for i, item in enumerate(reader.array(table[key], path)):
            rule = parse(reader, item, f"{path}[{i}]")
            at = next((j for j, r in enumerate(rules) if r.rule_id == rule.rule_id), None)
            if at is None:
                rules.append(rule)
            else:
                rules[at] = rule
    return tuple(rules)


def rules_from_mapping(
    data: Mapping[str, object],
    source: str = "<mapping>",
    registry: Mapping[str, RuleSet] = PRESETS,
) -> RuleSet:
    """A rule set from parsed TOML (or any mapping of the same shape);
    ``extends`` names a rule set in ``registry``."""
    reader = _Reader(source)
    top = reader.table(data, "", _TOP_KEYS)
    if "id" not in top:
        raise reader.fail("id", "missing")
    rule_id = reader.string(top["id"], "id")
    if rule_id in PRESETS:
        raise reader.fail("id", f"{rule_id!r} is a preset's id; give the custom rule set its own")
    base: RuleSet | None = None
    if "extends" in top:
        parent = reader.string(top["extends"], "extends")
        if parent not in registry:
            known = ", ".join(sorted(registry))
            raise reader.fail("extends", f"unknown rule set {parent!r} (known: {known})")
        base = registry[parent]
    elif "hours" not in top:
        raise reader.fail("hours", "missing (required unless the rule set extends another)")

    hours = reader.table(top.get("hours", {}), "hours", frozenset(KINDS))
    if base is None:
        for kind in KINDS:
            if kind not in hours:
                raise reader.fail(f"hours.{kind}", "missing (required without extends)")
    call_base = base.call_hours if base is not None else None
    message_base = base.message_hours if base is not None else None
    call_hours = (
        _hours(reader, hours["call"], "hours.call", call_base) if "call" in hours else call_base
    )
    message_hours = (
        _hours(reader, hours["message"], "hours.message", message_base)
        if "message" in hours
        else message_base
    )
    if call_hours is None or message_hours is None:  # only without extends, checked above
        raise reader.fail("hours", "missing")

    suppression = base.suppression if base is not None else SuppressionRules()
    if "suppress_statuses" in top:
        statuses: frozenset[DebtStatus] = reader.choices(
            top["suppress_statuses"], "suppress_statuses", DEBT_STATUSES
        )
        suppression = reader.build(
            "suppress_statuses", lambda: replace(suppression, statuses=statuses)
        )
    if "consent_required" in top:
        consent = reader.channels(top["consent_required"], "consent_required")
        suppression = replace(suppression, consent_required=consent)
    if "vulnerable" in top:
        table = reader.table(top["vulnerable"], "vulnerable", _VULNERABLE_KEYS)
        policy = suppression.vulnerable
        if "mode" in table:
            policy = replace(policy, mode=reader.choice(table["mode"], "vulnerable.mode", _MODES))
        if "channels" in table:
            policy = replace(
                policy, channels=reader.channels(table["channels"], "vulnerable.channels")
            )
        caps = _merge(reader, policy.caps, table, "caps", "remove_caps", _cap, "vulnerable.")
        suppression = replace(suppression, vulnerable=replace(policy, caps=caps))

    description = (
        reader.string(top["description"], "description")
        if "description" in top
        else (f"{rule_id}, extending {base.id}" if base is not None else rule_id)
    )
    max_days = (
        reader.integer(top["max_search_days"], "max_search_days", 1)
        if "max_search_days" in top
        else (base.max_search_days if base is not None else 30)
    )
    opt_out = (
        reader.channels(top["requires_opt_out_text"], "requires_opt_out_text")
        if "requires_opt_out_text" in top
        else (base.requires_opt_out_text if base is not None else frozenset())
    )
    # Extra holidays add to the base's: a custom set can close more days,
    # and reopening one is done by editing, not by omission.
    extra = base.extra_holidays if base is not None else frozenset()
    if "extra_holidays" in top:
        extra = extra | reader.dates(top["extra_holidays"], "extra_holidays")
    caps = _merge(reader, base.caps if base else (), top, "caps", "remove_caps", _cap)
    cooldowns = _merge(
        reader, base.cooldowns if base else (), top, "cooldowns", "remove_cooldowns", _cooldown
    )
    return reader.build(
        "id",
        lambda: RuleSet(
            id=rule_id,
            description=description,
            call_hours=call_hours,
            message_hours=message_hours,
            caps=caps,
            cooldowns=cooldowns,
            suppression=suppression,
            requires_opt_out_text=opt_out,
            extra_holidays=extra,
            max_search_days=max_days,
            extends=base.id if base is not None else None,
        ),
    )


def load_rules(path: str | Path, registry: Mapping[str, RuleSet] = PRESETS) -> RuleSet:
    """One rule set from a TOML file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise PolicyConfigError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise PolicyConfigError(f"{path}: cannot read: {error.strerror}") from None
    return rules_from_mapping(data, str(path), registry)


def load_registry(
    paths: Iterable[str | Path], base: Mapping[str, RuleSet] = PRESETS
) -> dict[str, RuleSet]:
    """The presets plus the rule sets in ``paths``, loaded in order (a file
    may extend one loaded before it)."""
    registry = dict(base)
    for path in paths:
        rules = load_rules(path, registry)
        if rules.id in registry:
            raise PolicyConfigError(f"{path}: id: {rules.id!r} is already defined")
        registry[rules.id] = rules
    return registry
