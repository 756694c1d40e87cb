"""Property tests over random histories, time zones, presets and clocks: every
dispatch the orchestrator makes respects its debtor's preset, re-checked here
rule by rule against the presets' own building blocks, and no dispatch_id
ever repeats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaudo.contracts.records import DispatchCommand
from recaudo.orchestration import Strategy, strategy_from_mapping
from recaudo.policy import Candidate, Contact, preset
from recaudo.policy.quiet_hours import holiday_calendar, zone_for
from recaudo.view.timebase import from_ms, to_ms
from tests.unit.orchestration.driver import OPT_OUT_PAGE, Driver
from tests.unit.view.builders import (
    ACCOUNT,
    dpd,
    missed,
    opened,
    paid,
    profile,
    promise,
    response,
)

PLACES = {
    "us_reg_f": ("America/New_York", "US", "en"),
    "co_ley_2300": ("America/Bogota", "CO", "es"),
    "cl_ley_19496": ("America/Santiago", "CL", "es"),
    "mx_condusef": ("America/Mexico_City", "MX", "es"),
    "pe_ley_29571": ("America/Lima", "PE", "es"),
    "br_sp": ("America/Sao_Paulo", "BR", "pt"),
}
START = datetime(2026, 12, 20, tzinfo=UTC)  # Christmas and New Year inside the run

ACTIONS = st.lists(
    st.tuples(
        st.floats(min_value=0.05, max_value=60.0),  # hours until the action
        st.sampled_from(
            [
                "missed",
                "missed",
                "wake",
                "wake",
                "wake",
                "paid",
                "promise",
                "failed",
                "read",
                "replied",
                "stop",
            ]
        ),
    ),
    min_size=1,
    max_size=40,
)


def _at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def _days(t: datetime) -> float:
    from tests.unit.view.builders import T

    return (t - T).total_seconds() / 86400


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "jurisdiction": draw(st.sampled_from(sorted(PLACES))),
        "all_consent": draw(st.booleans()),
        "whatsapp": draw(st.booleans()),
        "actions": draw(ACTIONS),
    }


def _run(
    s: dict[str, Any], d: Driver | None = None
) -> tuple[Driver, set[str], dict[str, datetime]]:
    zone, country, lang = PLACES[s["jurisdiction"]]
    points = [
        {"channel": "sms", "address": "+573001112233", "consent": s["all_consent"]},
        {"channel": "email", "address": "d1@example.co", "consent": True},
        {"channel": "voice", "address": "+573001112233", "consent": s["all_consent"]},
    ]
    if s["whatsapp"]:
        points.append({"channel": "whatsapp", "address": "+573001112233", "consent": True})
    d = d or Driver()
    d.event(
        profile(
            _days(START) - 40,
            jurisdiction=s["jurisdiction"],
            time_zone=zone,
            country=country,
            preferred_language=lang,
            contact_points=points,
        ),
        now=START,
    )
    d.event(opened(_days(START) - 30, balance=500_000), now=START)
    hours, instalment = 0.0, 0
    conversations: set[str] = set()
    opted_out_at: dict[str, datetime] = {}
    for step, (gap, action) in enumerate(s["actions"]):
        hours += gap
        now = _at(hours)
        when = _days(now)
        d.advance(now)
        last = d.dispatches[-1] if d.dispatches else None
        if action == "missed":
            instalment += 1
            d.event(missed(instalment, int(when) - 1, when=when), now=now)
        elif action == "paid":
            d.event(paid(f"p{step}", when, amount=10_000), now=now)
        elif action == "promise":
            d.event(promise(f"pr{step}", when, by=int(when) + 2), now=now)
        elif action == "wake":
            d.wake(now)
        elif last is not None:
            status = {"failed": "FAILED", "read": "READ", "replied": "REPLIED", "stop": "REPLIED"}
            text = (
                "STOP" if action == "stop" else ("quiero un plan" if action == "replied" else None)
            )
            if action == "stop":
                opted_out_at.setdefault(last.channel, now)
            elif action == "replied":
                conversations.add(last.dispatch_id)
            d.event(
                response(
                    status[action],
                    when,
                    channel=last.channel,
                    dispatch=last.dispatch_id,
                    text=text,
                    error_code="1" if action == "failed" else None,
                ),
                now=now,
            )
    return d, conversations, opted_out_at


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_dispatch_breaks_the_preset_and_no_dispatch_id_repeats(s: dict[str, Any]) -> None:
    d, conversations, _ = _run(s)
    assert_every_dispatch_respects_the_preset(d, s, conversations)


def assert_every_dispatch_respects_the_preset(
    d: Driver, s: dict[str, Any], conversations: set[str]
) -> None:
    """Hours, caps, cooldowns and opt-out text, re-checked from the preset's rules."""
    ids = [c.dispatch_id for c in d.dispatches]
    assert len(ids) == len(set(ids)), "a dispatch_id repeated"
    rules = preset(s["jurisdiction"])
    zone_name, country, _ = PLACES[s["jurisdiction"]]
    zone = zone_for(zone_name)
    assert zone is not None
    previous: list[tuple[DispatchCommand, datetime]] = []
    # Times are whole milliseconds everywhere (Avro timestamp-millis): a
    # dispatch happens at its occurred_at.
    for cmd in d.dispatches:
        now = cmd.occurred_at
        candidate = Candidate(
            cmd.debtor_id, cmd.account_id or ACCOUNT, cmd.channel, cmd.trigger, cmd.step
        )
        hours = rules.hours_for(candidate.kind)
        calendar = (
            holiday_calendar(country, None, rules.extra_holidays)
            if hours.closed_on_holidays
            else None
        )
        assert hours.violation(now.astimezone(zone), calendar) is None, (
            f"{cmd.channel} at {now.astimezone(zone)} local breaks {s['jurisdiction']}'s hours"
        )
        history = [
            Contact(at, c.channel, c.account_id or ACCOUNT, c.dispatch_id in conversations)
            for c, at in previous
        ]
        recent = [c for c in history if c.at > now - rules.lookback]
        for rule in (*rules.caps_for(candidate.kind, False), *rules.cooldowns_for(candidate.kind)):
            if rule.applies_to(candidate):
                assert rule.blocked_until(candidate, recent, now) is None, (
                    f"{cmd.channel} at {now} breaks {rule.rule_id}"
                )
        if cmd.channel in ("sms", "whatsapp") and cmd.channel in rules.requires_opt_out_text:
            assert cmd.body is not None and (
                "STOP" in cmd.body or "BAJA" in cmd.body or "PARAR" in cmd.body
            )
        if cmd.channel == "email" and cmd.channel in rules.requires_opt_out_text:
            # Email replies reach nobody: the email names the opt-out page.
            assert cmd.body is not None and cmd.body.endswith(f"{OPT_OUT_PAGE}.")
        previous.append((cmd, now))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_an_opt_out_is_final_for_its_channel(s: dict[str, Any]) -> None:
    d, _, opted_out_at = _run(s)
    for cmd, now in zip(d.dispatches, d.moments, strict=True):
        stopped = opted_out_at.get(cmd.channel)
        assert stopped is None or now <= stopped, f"{cmd.channel} used after the debtor said STOP"


# --- payments never stand in for a failure or the fallback wait --------------------

PAYMENT_ACTIONS = st.lists(
    st.tuples(
        st.floats(min_value=0.05, max_value=30.0),  # hours until the action
        st.sampled_from(
            ["dpd", "dpd", "missed", "pay", "pay", "pay", "wake", "failed", "read", "promise"]
        ),
        st.sampled_from([5, 15, 35, 45, 65, 95]),  # days past due reported
        st.sampled_from([1_000, 5_000, 10_000, 20_000, 50_000]),  # amount paid
    ),
    min_size=1,
    max_size=30,
)


@st.composite
def payment_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "jurisdiction": draw(st.sampled_from(sorted(PLACES))),
        "whatsapp": draw(st.booleans()),
        "actions": draw(PAYMENT_ACTIONS),
    }


def _fallback_after(strategy: Strategy, cmd: DispatchCommand) -> timedelta | None:
    """The shortest ``fallback_after`` of any cadence step this dispatch can
    belong to (the command names trigger, arm, step and template, not the
    cadence)."""
    waits = [
        steps[cmd.step].fallback_after
        for cadence in strategy.cadences
        if cadence.trigger == cmd.trigger
        and len(steps := cadence.steps(cmd.arm)) > cmd.step  # type: ignore[arg-type]
        and steps[cmd.step].template == cmd.template
    ]
    known = [w for w in waits if w is not None]
    return min(known) if known else None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payment_scenarios())
def test_a_step_reaches_a_second_channel_only_after_a_failure_or_its_wait(
    s: dict[str, Any],
) -> None:
    zone, country, lang = PLACES[s["jurisdiction"]]
    points = [
        {"channel": "sms", "address": "+573001112233", "consent": True},
        {"channel": "email", "address": "d1@example.co", "consent": True},
        {"channel": "voice", "address": "+573001112233", "consent": True},
    ]
    if s["whatsapp"]:
        points.append({"channel": "whatsapp", "address": "+573001112233", "consent": True})
    d = Driver()
    d.event(
        profile(
            _days(START) - 70,
            jurisdiction=s["jurisdiction"],
            time_zone=zone,
            country=country,
            preferred_language=lang,
            contact_points=points,
        ),
        now=START,
    )
    d.event(opened(_days(START) - 60, balance=500_000), now=START)
    failed_at: dict[str, datetime] = {}
    hours, instalment = 0.0, 0
    for n, (gap, action, days_past_due, amount) in enumerate(s["actions"]):
        hours += gap
        now = from_ms(to_ms(_at(hours)))  # whole milliseconds, as the engine's times
        when = _days(now)
        d.advance(now)
        last = d.dispatches[-1] if d.dispatches else None
        if action == "dpd":
            d.event(dpd(days_past_due, when, balance=500_000), now=now)
        elif action == "missed":
            instalment += 1
            d.event(missed(instalment, int(when) - 1, when=when), now=now)
        elif action == "pay":
            d.event(paid(f"p{n}", when, amount=amount), now=now)
        elif action == "promise":
            d.event(promise(f"pr{n}", when, by=int(when) + 2), now=now)
        elif action == "wake":
            d.wake(now)
        elif last is not None:
            status = "FAILED" if action == "failed" else "READ"
            if status == "FAILED":
                failed_at.setdefault(last.dispatch_id, now)
            d.event(
                response(status, when, channel=last.channel, dispatch=last.dispatch_id),
                now=now,
            )
    d.advance(_at(hours + 24 * 7))

    run_of = {
        x.dispatch_id: (x.trigger, x.trigger_event_id, x.step)
        for x in d.decisions
        if x.outcome == "DISPATCHED"
    }
    earlier: dict[tuple[str, object, int], tuple[DispatchCommand, datetime]] = {}
    strategy = d.orchestrator.strategy
    for cmd, sent in zip(d.dispatches, d.moments, strict=True):
        step = run_of[cmd.dispatch_id]
        if step in earlier:
            before, before_at = earlier[step]
            failed = failed_at.get(before.dispatch_id)
            wait = _fallback_after(strategy, before)
            assert (failed is not None and failed <= sent) or (
                wait is not None and sent - before_at >= wait
            ), (
                f"step {step} went from {before.channel} at {before_at} to {cmd.channel} "
                f"at {sent} with no failure and before its fallback wait ({wait})"
            )
        earlier[step] = (cmd, sent)


# --- a dispatch expires before its window closes -----------------------------------

EDGE_ZONES = [
    "America/Bogota",
    "America/New_York",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "Europe/London",
    "Australia/Lord_Howe",
]


@cache
def _clock_change_days(zone_name: str) -> tuple[date, ...]:
    zone = ZoneInfo(zone_name)
    days: list[date] = []
    instant = datetime(2017, 1, 1, tzinfo=UTC)
    offset = instant.astimezone(zone).utcoffset()
    while instant.year < 2030:
        instant += timedelta(hours=6)
        local_time = instant.astimezone(zone)
        if local_time.utcoffset() != offset:
            offset = local_time.utcoffset()
            days.append(local_time.date())
    return tuple(days)


@st.composite
def edge_moments(draw: st.DrawFn) -> dict[str, Any]:
    """A preset, a zone, a channel and a whole-millisecond instant within five
    minutes of the start or end of one of that day's allowed windows."""
    jurisdiction = draw(st.sampled_from(sorted(PLACES)))
    zone_name = draw(st.sampled_from([PLACES[jurisdiction][0], *EDGE_ZONES]))
    channel = draw(st.sampled_from(["sms", "email", "voice", "whatsapp"]))
    kind = "call" if channel == "voice" else "message"
    changes = _clock_change_days(zone_name)
    any_day = st.dates(date(2017, 1, 1), date(2029, 12, 31))
    day = draw(st.one_of(any_day, st.sampled_from(changes)) if changes else any_day)
    windows = preset(jurisdiction).hours_for(kind).days[day.weekday()]
    edge = draw(st.sampled_from([0, *(m for w in windows for m in (w.start, w.end))]))
    wall = datetime.combine(day, datetime.min.time()) + timedelta(
        minutes=edge, milliseconds=draw(st.integers(-300_000, 300_000))
    )
    local_time = wall.replace(tzinfo=ZoneInfo(zone_name), fold=draw(st.integers(0, 1)))
    return {
        "jurisdiction": jurisdiction,
        "zone": zone_name,
        "channel": channel,
        "now": from_ms(to_ms(local_time.astimezone(UTC))),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edge_moments())
def test_a_dispatch_decided_at_a_window_edge_expires_within_the_window(
    s: dict[str, Any],
) -> None:
    rules = preset(s["jurisdiction"])
    _, country, lang = PLACES[s["jurisdiction"]]
    step = {"offset": "0h", "channels": [s["channel"]], "template": "payment_missed"}
    cadence = {"id": "c", "trigger": "payment_missed", "champion": [step]}
    d = Driver.with_strategy(strategy_from_mapping({"id": "edge", "cadence": [cadence]}))
    now: datetime = s["now"]
    when = _days(now)
    d.event(
        profile(
            when - 40,
            jurisdiction=s["jurisdiction"],
            time_zone=s["zone"],
            country=country,
            preferred_language=lang,
            contact_points=[
                {"channel": c, "address": "+573001112233", "consent": True}
                for c in ("sms", "voice", "whatsapp")
            ]
            + [{"channel": "email", "address": "d1@example.co", "consent": True}],
        ),
        now=now,
    )
    d.event(opened(when - 30), now=now)
    d.event(missed(1, int(when) - 1, when=when), now=now)
    d.advance(now + timedelta(days=40))
    assert len(d.dispatches) == 1, [(x.outcome, x.rules_fired) for x in d.decisions]
    cmd = d.dispatches[0]
    zone = zone_for(s["zone"])
    assert zone is not None
    hours = rules.hours_for("call" if cmd.channel == "voice" else "message")
    calendar = (
        holiday_calendar(country, None, rules.extra_holidays) if hours.closed_on_holidays else None
    )

    def allowed(instant: datetime) -> bool:
        return hours.violation(instant.astimezone(zone), calendar) is None

    start, end = cmd.occurred_at, cmd.expires_at
    assert end - start >= timedelta(seconds=60), "less than a minute to send"
    # Every moment the connector may send at is inside the allowed hours: at
    # each second of the last two minutes, every 30 s before them.
    instant = start
    while instant < end:
        assert allowed(instant), (
            f"{cmd.channel} decided at {start.astimezone(zone)} may be sent at "
            f"{instant.astimezone(zone)}, outside {s['jurisdiction']}'s hours "
            f"(expires {end.astimezone(zone)})"
        )
        instant += timedelta(seconds=1 if end - instant <= timedelta(minutes=2) else 30)
    assert allowed(end - timedelta(milliseconds=1))
