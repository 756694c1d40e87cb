"""The dashboard's content: figures and HTML sections from a snapshot.

The first page load and every refresh render the same sections here, so the
page shows its figures without JavaScript and the poller swaps them in place.
"""

from __future__ import annotations

import importlib.resources
from datetime import datetime, timedelta
from functools import cache
from html import escape
from typing import Any

import jinja2

from recaudo.dashboard import svg
from recaudo.dashboard.data import TIMELINE_WINDOWS, Snapshot
from recaudo.dashboard.lag import LagReport
from recaudo.embedded.state import CRASH_LOOP_WINDOW_S
from recaudo.events import CHANNELS
from recaudo.kpis import Counters
from recaudo.money import format_amounts
from recaudo.view.buckets import BUCKETS


def format_percent(value: float | None) -> str:
    """0.1234 -> "12.3%"; a rate with no denominator shows as a dash."""
    return "—" if value is None else f"{value:.1%}"


def figures(snap: Snapshot, lag: LagReport) -> dict[str, Any]:
    """The headline numbers (what the JSON endpoint and the cards show)."""
    c = snap.overall
    rates = c.rates().to_dict()
    return {
        "contacts": c.contacts,
        "delivered": c.delivered,
        "replied": c.replied,
        "right_party": c.right_party,
        "promises": c.promises,
        "payments": c.payments,
        "cures": c.cures,
        "suppressed": c.suppressed,
        "deferred": c.deferred,
        "recovered_minor": dict(c.recovered_minor),
        **rates,
        "debtors": snap.debtors,
        "open_promises": snap.open_promises,
        "consumer_lag": lag.total_lag,
        "throughput_per_s": lag.total_rate,
        "last_event_at": snap.last_event_at.isoformat() if snap.last_event_at else None,
        "crash_looping": snap.crash_looping,
    }


def _cards(snap: Snapshot) -> str:
    c = snap.overall
    r = c.rates()
    cards = [
        ("contacts", "Contacts", f"{c.contacts:,}"),
        ("delivery_rate", "Delivery rate", format_percent(r.delivery_rate)),
        ("right_party_rate", "Right-party contact", format_percent(r.right_party_rate)),
        ("reply_rate", "Reply rate", format_percent(r.reply_rate)),
        ("promise_rate", "Promise-to-pay rate", format_percent(r.promise_rate)),
        ("promise_kept_rate", "Promises kept", format_percent(r.promise_kept_rate)),
        ("cure_rate", "Cure rate", format_percent(r.cure_rate)),
        (
            "contacts_per_cure",
            "Contacts per cure",
            "—" if r.contacts_per_cure is None else f"{r.contacts_per_cure:.1f}",
        ),
        ("recovered", "Recovered", escape(format_amounts(c.recovered_minor))),
        ("debtors", "Debtors in view", f"{snap.debtors:,}"),
    ]
    return "".join(
        f'<div class="card" data-figure="{key}"><div class="label">{label}</div>'
        f'<div class="value">{value}</div></div>'
        for key, label, value in cards
    )


def _funnel(c: Counters) -> str:
    steps = [
        ("Dispatched", c.contacts),
        ("Delivered", c.delivered),
        ("Replied / right party", c.replied + c.right_party),
        ("Promised to pay", c.promises),
        ("Paid", c.payments),
        ("Cured", c.cures),
    ]
    return svg.hbars(steps, title="Contact funnel", percent_of=c.contacts or None)


def _table(members: dict[str, Counters], order: list[str], first: str) -> str:
    rows = [m for m in order if m in members] + sorted(set(members) - set(order))
    if not rows:
        return svg.EMPTY
    head = (
        f"<tr><th>{first}</th><th>Contacts</th><th>Delivered</th><th>Reply</th>"
        "<th>Right party</th><th>Promises</th><th>Kept</th><th>Cures</th><th>Recovered</th>"
        "<th>Suppressed</th></tr>"
    )
    body = []
    for member in rows:
        c = members[member]
        r = c.rates()
        body.append(
            f"<tr><td>{escape(member)}</td><td>{c.contacts:,}</td>"
            f"<td>{format_percent(r.delivery_rate)}</td><td>{format_percent(r.reply_rate)}</td>"
            f"<td>{format_percent(r.right_party_rate)}</td><td>{c.promises:,}</td>"
            f"<td>{format_percent(r.promise_kept_rate)}</td><td>{c.cures:,}</td>"
            f"<td>{escape(format_amounts(c.recovered_minor))}</td><td>{c.suppressed:,}</td></tr>"
        )
    return f'<div class="scroll"><table class="grid">{head}{"".join(body)}</table></div>'


def _channels(snap: Snapshot) -> str:
    members = snap.members("CHANNEL")
    channels = [ch for ch in CHANNELS if ch in members]
    rates = [members[ch].rates() for ch in channels]
    chart = svg.grouped_bars(
        channels,
        [
            ("delivered", [r.delivery_rate for r in rates]),
            (
                "replied / right party",
                [
                    r.right_party_rate if ch == "voice" else r.reply_rate
                    for ch, r in zip(channels, rates, strict=True)
                ],
            ),
            ("promised", [r.promise_rate for r in rates]),
        ],
        title="Per-channel performance",
    )
    return chart + _table(members, list(CHANNELS), "Channel")


def _suppressions(c: Counters) -> str:
    reasons = sorted(c.suppressions.items(), key=lambda kv: (-kv[1], kv[0]))
    return svg.hbars(reasons, title="Suppressions by reason", percent_of=c.suppressed or None)


def _timeline(snap: Snapshot) -> str:
    # Hours with no event have no row: they are zeros on the axis, not gaps.
    contacts = {start: c.contacts for start, c in snap.hourly}
    points: list[tuple[str, float]] = []
    if contacts:
        hour, last = min(contacts), max(contacts)
        while hour <= last and len(points) < TIMELINE_WINDOWS:
            points.append((hour.strftime("%b %d %H:00"), float(contacts.get(hour, 0))))
            hour += timedelta(hours=1)
    return svg.timeline(points, title="Contacts per hour (event time)")


def _buckets(snap: Snapshot) -> str:
    view = [(b, float(snap.debtors_by_bucket.get(b, 0))) for b in BUCKETS]
    chart = svg.hbars(
        view,
        title="Debtors by bucket",
        percent_of=snap.debtors or None,
        empty="No debtors in the view yet.",
    )
    return chart + _table(snap.members("BUCKET"), list(BUCKETS), "Bucket")


def _pipeline(lag: LagReport) -> str:
    if lag.error:
        return f'<p class="error">Kafka: {escape(lag.error)}</p>'
    if not lag.groups:
        return '<p class="empty">No consumer group has committed yet.</p>'
    rows = "".join(
        f"<tr><td>{escape(g.group)}</td><td>{g.partitions}</td><td>{g.committed:,}</td>"
        f'<td data-lag="{g.lag}">{g.lag:,}</td>'
        f"<td>{'—' if g.rate is None else f'{g.rate:,.1f}/s'}</td></tr>"
        for g in lag.groups
    )
    total = lag.total_rate
    return (
        '<table class="grid"><tr><th>Consumer group</th><th>Partitions</th>'
        "<th>Consumed</th><th>Lag</th><th>Throughput</th></tr>"
        f'{rows}<tr class="total"><td>all</td><td></td><td></td><td>{lag.total_lag:,}</td>'
        f"<td>{'—' if total is None else f'{total:,.1f}/s'}</td></tr></table>"
    )


def _workers(snap: Snapshot) -> str:
    """The workers that exited since `recaudo up` started them; nothing when none did."""
    if not snap.workers:
        return ""
    looping = snap.crash_looping
    alert = (
        f'<p class="error" data-crash-looping="{escape(" ".join(looping))}">'
        f"Crash-looping: {escape(', '.join(looping))}. The supervisor keeps restarting "
        "it; it will not stay up until what its log shows is fixed (`recaudo status`).</p>"
        if looping
        else ""
    )
    rows = []
    for name, w in sorted(snap.workers.items()):
        marked = ' class="error"' if w["crash_looping"] else ""
        rows.append(
            f'<tr data-worker="{escape(name)}"{marked}><td>{escape(name)}</td>'
            f"<td>{w['restarts']:,}</td><td>{w['last_exit_code']}</td>"
            f"<td>{w['exits_recently']:,}</td><td>{escape(w['last_error'] or '—')}</td></tr>"
        )
    return (
        f'{alert}<table class="grid"><tr><th>Worker</th><th>Restarts</th>'
        f"<th>Last exit code</th><th>Exits in {CRASH_LOOP_WINDOW_S / 60:.0f} min</th>"
        "<th>Last error</th></tr>"
        f"{''.join(rows)}</table>"
    )


def sections(snap: Snapshot, lag: LagReport) -> dict[str, str]:
    """Element id -> inner HTML, for the page and for each refresh."""
    c = snap.overall
    arms = snap.members("ARM")
    status = f"Postgres: {escape(snap.error)}" if snap.error else ""
    return {
        "status": status,
        "workers": _workers(snap),
        "figures": _cards(snap),
        "funnel": _funnel(c),
        "channels": _channels(snap),
        "suppressions": _suppressions(c),
        "timeline": _timeline(snap),
        "arms": _table(arms, sorted(arms), "Strategy / arm"),
        "buckets": _buckets(snap),
        "pipeline": _pipeline(lag),
    }


@cache
def _template() -> jinja2.Template:
    text = (
        importlib.resources.files("recaudo.dashboard")
        .joinpath("templates")
        .joinpath("dashboard.html")
        .read_text(encoding="utf-8")
    )
    # Sections are built here with every value escaped; the template adds none.
    return jinja2.Environment(autoescape=False).from_string(text)


def render_page(
    snap: Snapshot, lag: LagReport, refresh_s: float, now: datetime, intro: str = ""
) -> str:
    """The whole page; ``refresh_s`` 0 renders a static page (a report) with no script."""
    return _template().render(
        sections=sections(snap, lag),
        refresh_ms=int(refresh_s * 1000),
        generated=now.strftime("%Y-%m-%d %H:%M:%S %Z"),
        intro=escape(intro),
    )
