"""Properties of evaluate() over random debtors, histories, zones and clocks.

The legal hours are restated here from the statutes (not read from the rule
sets), so a preset that drifted from its law fails these tests too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaudo.policy import (
    CHANNELS,
    PRESETS,
    Candidate,
    Contact,
    PolicyContext,
    RuleSet,
    evaluate,
)
from recaudo.policy.caps import Scope
from tests.unit.policy.builders import HOME

# minutes [start, end) per weekday (Monday first), and whether holidays close.
Hours = tuple[tuple[tuple[int, int], ...], ...]


def _week(
    weekday: tuple[int, int], sat: tuple[int, int] | None, sun: tuple[int, int] | None
) -> Hours:
    return (*(((weekday,),) * 5), (sat,) if sat else (), (sun,) if sun else ())


LEGAL: dict[str, tuple[Hours, bool]] = {
    "us_reg_f": (_week((480, 1260), (480, 1260), (480, 1260)), False),
    "co_ley_2300": (_week((420, 1140), (480, 900), None), True),
    "cl_ley_19496": (_week((480, 1200), None, None), True),
    "mx_condusef": (_week((420, 1320), (420, 1320), (420, 1320)), False),
    "pe_ley_29571": (_week((420, 1200), None, None), True),
    "br_sp": (_week((480, 1200), (480, 840), None), True),
}
# Debtors do not always live where their law's capital is.
ZONES = [
    "America/Santiago",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Los_Angeles",
    "America/Havana",
    "America/Asuncion",
    "Australia/Lord_Howe",
    "Europe/London",
    "Pacific/Chatham",
    "Asia/Kathmandu",
]
START = datetime(2016, 1, 1)
END = datetime(2030, 12, 31)


@cache
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def legally_open(jurisdiction: str, ctx: PolicyContext, instant: datetime) -> bool:
    hours, closed_on_holidays = LEGAL[jurisdiction]
    wall = instant.astimezone(ZoneInfo(ctx.time_zone))
    day = wall.date()
    if closed_on_holidays and day in _holidays(ctx.country, ctx.subdivision, day.year):
        return False
    minute = wall.hour * 60 + wall.minute
    return any(a <= minute < b for a, b in hours[wall.weekday()])


@dataclass(frozen=True)
class Scenario:
    jurisdiction: str
    ctx: PolicyContext
    candidate: Candidate
    now: datetime

    @property
    def rules(self) -> RuleSet:
        return PRESETS[self.jurisdiction]


@st.composite
def scenarios(draw: st.DrawFn, with_suppressions: bool = False) -> Scenario:
    jurisdiction = draw(st.sampled_from(sorted(PRESETS)))
    home_zone, country, subdivision = HOME[jurisdiction]
    zone = draw(st.sampled_from([home_zone, home_zone, *ZONES]))
    now = draw(st.datetimes(min_value=START, max_value=END, timezones=st.just(UTC)))
    channels = st.sampled_from(CHANNELS)
    debts = st.sampled_from(["A1", "A2"])
    history = draw(
        st.lists(
            st.builds(
                Contact,
                at=st.integers(0, 10 * 24 * 60).map(lambda m: now - timedelta(minutes=m)),
                channel=channels,
                debt_id=debts,
                conversation=st.booleans(),
            ),
            max_size=12,
        )
    )
    flags = (
        draw(st.frozensets(st.just("vulnerable")))
        if not with_suppressions
        else draw(st.frozensets(st.sampled_from(["vulnerable", "deceased", "bankruptcy"])))
    )
    ctx = PolicyContext(
        time_zone=zone,
        country=country,
        subdivision=subdivision,
        jurisdiction=jurisdiction,
        flags=flags,
        consent=frozenset(CHANNELS),
        valid_addresses=frozenset(CHANNELS),
        opted_out=draw(st.frozensets(channels, max_size=1)) if with_suppressions else frozenset(),
        history=tuple(history),
    )
    cand = Candidate("D1", draw(debts), draw(channels), "instalment_due", 0)
    return Scenario(jurisdiction, ctx, cand, now)


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(scenarios(with_suppressions=True))
def test_dispatch_is_always_within_the_legal_hours(s: Scenario) -> None:
    decision = evaluate(s.ctx, s.candidate, s.now, s.rules)
    if decision.outcome == "DISPATCH":
        assert legally_open(s.jurisdiction, s.ctx, s.now)
        assert decision.rules_fired == ()
        assert decision.window_closes_at is not None and decision.window_closes_at > s.now
        last = decision.window_closes_at - timedelta(microseconds=1)
        assert legally_open(s.jurisdiction, s.ctx, last)
    elif decision.outcome == "SUPPRESS":
        assert decision.rules_fired and decision.not_before is None
    else:
        assert decision.rules_fired


@FAST
@given(scenarios())
def test_deferral_is_to_the_first_allowed_instant(s: Scenario) -> None:
    decision = evaluate(s.ctx, s.candidate, s.now, s.rules)
    if decision.outcome != "DEFER":
        return
    not_before = decision.not_before
    assert not_before is not None and not_before > s.now
    assert legally_open(s.jurisdiction, s.ctx, not_before)
    assert evaluate(s.ctx, s.candidate, not_before, s.rules).outcome == "DISPATCH"
    # Nothing earlier is allowed: not just before, nor anywhere between.
    just_before = not_before - timedelta(microseconds=1)
    if just_before >= s.now:
        assert evaluate(s.ctx, s.candidate, just_before, s.rules).outcome == "DEFER"
    rng = random.Random(s.now.timestamp())
    for _ in range(3):
        between = s.now + (not_before - s.now) * rng.random()
        assert evaluate(s.ctx, s.candidate, between, s.rules).outcome == "DEFER"


@FAST
@given(scenarios(with_suppressions=True), st.randoms(use_true_random=False))
def test_same_inputs_same_decision(s: Scenario, rng: random.Random) -> None:
    first = evaluate(s.ctx, s.candidate, s.now, s.rules)
    assert evaluate(s.ctx, s.candidate, s.now, s.rules) == first
    shuffled = list(s.ctx.history)
    rng.shuffle(shuffled)
    copy = replace(s.ctx, history=tuple(shuffled), flags=frozenset(s.ctx.flags))
    assert evaluate(copy, s.candidate, s.now, s.rules) == first


def _in_scope(scope: Scope, a: Contact, b: Contact) -> bool:
    same_debt = a.debt_id == b.debt_id
    same_channel = a.channel == b.channel
    return {
        "debtor": True,
        "debt": same_debt,
        "channel": same_channel,
        "debt_channel": same_debt and same_channel,
    }[scope]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenarios(),
    st.lists(
        st.tuples(st.sampled_from(CHANNELS), st.sampled_from(["A1", "A2"])), min_size=1, max_size=5
    ),
    st.lists(st.integers(0, 3 * 24 * 60), min_size=10, max_size=10),
    st.lists(st.booleans(), min_size=10, max_size=10),
)
def test_a_greedy_sender_never_breaks_a_cap_or_cooldown(
    s: Scenario,
    wanted: list[tuple[str, str]],
    gaps: list[int],
    talks: list[bool],
) -> None:
    """Send whenever the engine says DISPATCH, ask again at not_before when
    it says DEFER, and check every cap and cooldown on what was sent."""
    rules = s.rules
    history = list(s.ctx.history)
    queue = [
        (s.now, i, Candidate("D1", debt, channel, "t", 0))  # type: ignore[arg-type]
        for i, (channel, debt) in enumerate(wanted)
    ]
    sent: list[tuple[int, Contact]] = []
    for step in range(60):
        if not queue:
            break
        queue.sort(key=lambda item: (item[0], item[1]))
        now, i, cand = queue.pop(0)
        decision = evaluate(replace(s.ctx, history=tuple(history)), cand, now, rules)
        if decision.outcome == "DISPATCH":
            made = Contact(now, cand.channel, cand.debt_id, talks[step % len(talks)])
            sent.append((len(history), made))
            history.append(made)
            queue.append((now + timedelta(minutes=gaps[step % len(gaps)]), i, cand))
        elif decision.outcome == "DEFER":
            assert decision.not_before is not None and decision.not_before > now
            queue.append((decision.not_before, i, cand))

    vulnerable = "vulnerable" in s.ctx.flags and rules.suppression.vulnerable.mode == "restrict"
    caps = rules.caps + (rules.suppression.vulnerable.caps if vulnerable else ())
    for index, made in sent:
        assert legally_open(s.jurisdiction, s.ctx, made.at)
        for cap in caps:
            if made.kind not in cap.kinds or made.channel not in cap.channels:
                continue
            inside = [
                c
                for c in history
                if made.at - cap.window < c.at <= made.at
                and c.kind in cap.kinds
                and c.channel in cap.channels
                and _in_scope(cap.scope, c, made)
            ]
            if cap.measure == "contacts":
                assert len(inside) <= cap.limit, cap.rule_id
            else:
                assert len({c.channel for c in inside}) <= cap.limit, cap.rule_id
        for cooldown in rules.cooldowns:
            if made.kind not in cooldown.kinds:
                continue
            assert not any(
                c.conversation
                and c.kind in cooldown.after_kinds
                and made.at - cooldown.duration < c.at <= made.at
                and _in_scope(cooldown.scope, c, made)
                for c in history[:index]
            ), cooldown.rule_id


# --- a dispatch always has min_send of the window ahead -----------------------------

MIN_SEND = timedelta(seconds=60)


@cache
def _transition_days(zone_name: str) -> tuple[date, ...]:
    """Local days on which ``zone_name`` changes its UTC offset, START..END."""
    zone = ZoneInfo(zone_name)
    days: list[date] = []
    instant = START.replace(tzinfo=UTC)
    offset = instant.astimezone(zone).utcoffset()
    while instant < END.replace(tzinfo=UTC):
        instant += timedelta(hours=6)
        local_time = instant.astimezone(zone)
        if local_time.utcoffset() != offset:
            offset = local_time.utcoffset()
            days.append(local_time.date())
    return tuple(days)


@st.composite
def near_window_edges(draw: st.DrawFn) -> Scenario:
    """An instant within five minutes of a window's start or end (or local
    midnight), on any day or on a day the clocks change."""
    jurisdiction = draw(st.sampled_from(sorted(PRESETS)))
    home_zone, country, subdivision = HOME[jurisdiction]
    zone_name = draw(st.sampled_from([home_zone, home_zone, *ZONES]))
    changes = _transition_days(zone_name)
    any_day = st.dates(START.date(), END.date())
    day = draw(st.one_of(any_day, st.sampled_from(changes)) if changes else any_day)
    windows = LEGAL[jurisdiction][0][day.weekday()]
    edge = draw(st.sampled_from([0, *(m for w in windows for m in w)]))
    wall = datetime.combine(day, datetime.min.time()) + timedelta(
        minutes=edge, milliseconds=draw(st.integers(-300_000, 300_000))
    )
    zone = ZoneInfo(zone_name)
    now = wall.replace(tzinfo=zone, fold=draw(st.integers(0, 1))).astimezone(UTC)
    ctx = PolicyContext(
        time_zone=zone_name,
        country=country,
        subdivision=subdivision,
        jurisdiction=jurisdiction,
        consent=frozenset(CHANNELS),
        valid_addresses=frozenset(CHANNELS),
    )
    cand = Candidate("D1", "A1", draw(st.sampled_from(CHANNELS)), "payment_missed", 0)
    return Scenario(jurisdiction, ctx, cand, now)


def _open_throughout(s: Scenario, start: datetime, end: datetime) -> bool:
    """Legally open at every second from ``start`` to just before ``end``."""
    instant = start
    while instant < end:
        if not legally_open(s.jurisdiction, s.ctx, instant):
            return False
        instant += timedelta(seconds=1)
    return legally_open(s.jurisdiction, s.ctx, end - timedelta(microseconds=1))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_window_edges())
def test_at_a_window_edge_a_dispatch_has_min_send_of_open_window(s: Scenario) -> None:
    decision = evaluate(s.ctx, s.candidate, s.now, s.rules, min_send=MIN_SEND)
    if decision.outcome == "DISPATCH":
        closes = decision.window_closes_at
        assert closes is not None and closes - s.now >= MIN_SEND
        assert _open_throughout(s, s.now, s.now + MIN_SEND)
        assert legally_open(s.jurisdiction, s.ctx, closes - timedelta(microseconds=1))
    else:
        assert decision.outcome == "DEFER", decision
        not_before = decision.not_before
        assert not_before is not None and not_before > s.now
        assert _open_throughout(s, not_before, not_before + MIN_SEND)
        if decision.reason_codes == ("WINDOW_CLOSING",):
            # Open now, but not for MIN_SEND: it really was the window's end.
            assert legally_open(s.jurisdiction, s.ctx, s.now)
            assert not _open_throughout(s, s.now, s.now + MIN_SEND)
