"""``evaluate``: one candidate contact, one instant, one rule set, one decision.

Pure: no I/O, no clock (``now`` is injected), no state beyond the caches of
time zones and holiday calendars, so a replay gives the same decisions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from recaudo.policy.caps import WindowRule
from recaudo.policy.model import Candidate, Decision, PolicyContext, RuleHit, as_utc
from recaudo.policy.quiet_hours import (
    NO_WINDOW_HIT,
    UNKNOWN_CALENDAR_HIT,
    UNKNOWN_ZONE_HIT,
    WINDOW_CLOSING_HIT,
    HolidayCalendar,
    holiday_calendar,
    zone_for,
)
from recaudo.policy.ruleset import RuleSet
from recaudo.policy.suppression import suppressions


def evaluate(
    ctx: PolicyContext,
    candidate: Candidate,
    now: datetime,
    rules: RuleSet,
    *,
    min_send: timedelta = timedelta(0),
) -> Decision:
    """DISPATCH, DEFER (with ``not_before``) or SUPPRESS, listing every rule
    that fired.

    ``min_send`` is the least time a dispatch needs inside the allowed hours
    to be sent: a contact whose window closes sooner is deferred to the first
    instant with at least that much of a window ahead (``WINDOW_CLOSING``),
    and ``not_before`` always leaves that much.

    Every rule is evaluated even once the outcome is known, so the audit
    record shows all the reasons (a suppressed contact that was also outside
    the hours says both). A deferral waits for the last cap or cooldown to
    clear and then for the next open window in the debtor's local time; if
    no window opens within ``rules.max_search_days`` it becomes a
    suppression.
    """
    now = as_utc(now, "now")
    if min_send < timedelta(0):
        raise ValueError(f"min_send must not be negative, got {min_send}")
    hits = suppressions(ctx, candidate, rules.suppression)
    suppressed = bool(hits)
    opt_out_text = candidate.channel in rules.requires_opt_out_text

    def suppress(hit: RuleHit) -> Decision:
        hits.append(hit)
        return Decision("SUPPRESS", tuple(hits), rules.id, opt_out_text)

    zone = zone_for(ctx.time_zone)
    if zone is None:
        return suppress(UNKNOWN_ZONE_HIT)
    hours = rules.hours_for(candidate.kind)
    calendar: HolidayCalendar | None = None
    if hours.closed_on_holidays:
        calendar = holiday_calendar(ctx.country, ctx.subdivision, rules.extra_holidays)
        if calendar is None:
            return suppress(UNKNOWN_CALENDAR_HIT)
    time_hit = hours.violation(now.astimezone(zone), calendar)
    if time_hit is not None:
        hits.append(time_hit)

    wait_until: datetime | None = None
    caps = rules.caps_for(candidate.kind, "vulnerable" in ctx.flags)
    cooldowns = rules.cooldowns_for(candidate.kind)
    if caps or cooldowns:
        floor = now - rules.lookback
        recent = [c for c in ctx.history if c.at > floor]
        window_rules: tuple[WindowRule, ...] = (*caps, *cooldowns)
        for rule in window_rules:
            if not rule.applies_to(candidate):
                continue
            until = rule.blocked_until(candidate, recent, now)
            if until is not None:
                hits.append(rule.hit)
                if wait_until is None or until > wait_until:
                    wait_until = until

    if suppressed:
        return Decision("SUPPRESS", tuple(hits), rules.id, opt_out_text)
    if time_hit is None and wait_until is None:
        closes = hours.closes_at(now, zone)
        if closes - now >= min_send:
            return Decision("DISPATCH", (), rules.id, opt_out_text, window_closes_at=closes)
        hits.append(WINDOW_CLOSING_HIT)
    # Caps and cooldowns only relax as time passes, so once they clear they
    # stay clear: the answer is the first open window from then on.
    start = now if wait_until is None else max(now, wait_until)
    not_before = hours.next_open(start, zone, calendar, rules.max_search_days, lasting=min_send)
    if not_before is None:
        return suppress(NO_WINDOW_HIT)
    return Decision("DEFER", tuple(hits), rules.id, opt_out_text, not_before=not_before)
