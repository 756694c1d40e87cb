"""The dashboard's content: figures and HTML sections from a snapshot.

The first page load and every refresh render the same sections here, so the
page shows its figures without JavaScript and the poller swaps them in place.
"""

from __future__ import annotations

import importlib.resources
import math
from datetime import datetime, timedelta
from functools import cache
from html import escape
from typing import Any

import jinja2

from recaudo.contracts.records import CHANNELS
from recaudo.dashboard import svg
from recaudo.dashboard.data import TIMELINE_WINDOWS, Snapshot
from recaudo.dashboard.lag import LagReport
from recaudo.embedded.state import CRASH_LOOP_WINDOW_S
from recaudo.kpis import Counters
from recaudo.kpis.conversations import OVERFLOW
from recaudo.kpis.figures import (
    CONVERSATION,
    CURED_AFTER_CONTACT,
    HEADLINE,
    RECOVERED_DEFINITION,
    recovered_lines,
)
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
        **{f.key: f.value(c) for f in HEADLINE},
        **{f.key: _json_value(f.value(c)) for f in CONVERSATION},
        "handoff_reasons": dict(c.handoff_reasons),
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


def _json_value(value: float | int | None) -> float | int | str | None:
    """JSON has no infinity: a time past the histogram's largest bound is "more"."""
    if isinstance(value, float) and math.isinf(value):
        return OVERFLOW
    return value


def amounts_list(amounts: dict[str, int]) -> str:
    """Money per currency as a compact list, one currency a line (never wrapped
    into one long string that pushes a table's columns off screen)."""
    if not amounts:
        return "0"
    items = "".join(
        f'<li data-currency="{escape(currency)}">{escape(line)}</li>'
        for currency, line in zip(sorted(amounts), recovered_lines(amounts), strict=True)
    )
    return f'<ul class="amounts">{items}</ul>'


def _cards(snap: Snapshot) -> str:
    c = snap.overall
    # Each figure's definition is in the definitions section, under the same label.
    cards = [(f.key, f.label, escape(f.format(c))) for f in HEADLINE]
    cards.append(("recovered", "Recovered", amounts_list(c.recovered_minor)))
    cards.append(("debtors", "Debtors in view", f"{snap.debtors:,}"))
    return _card_html(cards)


def _card_html(cards: list[tuple[str, str, str]]) -> str:
    return "".join(
        f'<div class="card" data-figure="{key}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{value}</div></div>'
        for key, label, value in cards
    )


def _definitions() -> str:
    """What each figure means, named as the cards and tables name it."""
    rows = [(f.label, f.definition) for f in HEADLINE]
    rows.append(("Recovered", RECOVERED_DEFINITION))
    rows.extend((f.label, f.definition) for f in CONVERSATION)
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<dl class="definitions">{items}</dl>'


def _funnel(c: Counters) -> str:
    steps = [
        ("Dispatched", c.contacts),
        ("Delivered", c.delivered),
        ("Replied / right party", c.replied + c.right_party),
        ("Promised to pay", c.promises),
        ("Paid", c.payments),
        (CURED_AFTER_CONTACT.label, CURED_AFTER_CONTACT.value(c) or 0),
    ]
    return svg.hbars(steps, title="Contact funnel", percent_of=c.contacts or None)


def _table(members: dict[str, Counters], order: list[str], first: str) -> str:
    rows = [m for m in order if m in members] + sorted(set(members) - set(order))
    if not rows:
        return svg.EMPTY
    columns = [
        first,
        "Contacts",
        "Delivered",
        "Reply",
        "Right party",
        "Promises",
        "Kept",
        CURED_AFTER_CONTACT.label,
        "Recovered",
        "Suppressed",
    ]
    head = "<thead><tr>" + "".join(f"<th>{escape(name)}</th>" for name in columns) + "</tr></thead>"
    body = []
    for member in rows:
        c = members[member]
        r = c.rates()
        cells = [
            escape(member),
            f"{c.contacts:,}",
            format_percent(r.delivery_rate),
            format_percent(r.reply_rate),
            format_percent(r.right_party_rate),
            f"{c.promises:,}",
            format_percent(r.promise_kept_rate),
            f"{CURED_AFTER_CONTACT.value(c):,}",
            amounts_list(c.recovered_minor),
            f"{c.suppressed:,}",
        ]
        # data-label names the column when a narrow screen stacks each row.
        body.append(
            "<tr>"
            + "".join(
                f'<td data-label="{escape(name)}">{cell}</td>'
                for name, cell in zip(columns, cells, strict=True)
            )
            + "</tr>"
        )
    return (
        f'<div class="members-box"><div class="scroll"><table class="grid members">{head}'
        f"<tbody>{''.join(body)}</tbody></table></div></div>"
    )


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


def _conversations(c: Counters) -> str:
    """The conversation figures and the handoffs by reason; a note while
    conversations are off or none has happened."""
    if not (c.messages_read or c.conversations or c.handoffs or c.conversation_promises):
        return (
            '<p class="empty">No conversation yet (answers to debtors\' messages are off '
            "when RECAUDO_CONVERSATIONS=false).</p>"
        )
    cards = _card_html([(f.key, f.label, escape(f.format(c))) for f in CONVERSATION])
    reasons = sorted(c.handoff_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    chart = svg.hbars(
        reasons,
        title="Handed to a person, by reason",
        percent_of=c.handoffs or None,
        empty="No conversation handed to a person.",
    )
    return f'<div class="cards">{cards}</div>{chart}'


def _suppressions(c: Counters) -> str:
    reasons = sorted(c.suppressions.items(), key=lambda kv: (-kv[1], kv[0]))
    return svg.hbars(reasons, title="Suppressions by reason", percent_of=c.suppressed or None)


def timeline_points(
    hourly: list[tuple[datetime, Counters]], windows: int = TIMELINE_WINDOWS
) -> list[tuple[datetime, int]]:
    """Contacts per hour over the ``windows`` hours that end with the newest
    hour (no earlier than the oldest hour given); hours with no row are zeros."""
    contacts: dict[datetime, int] = {}
    for start, c in hourly:
        contacts[start] = contacts.get(start, 0) + c.contacts
    if not contacts:
        return []
    last = max(contacts)
    first = max(min(contacts), last - timedelta(hours=windows - 1))
    count = int((last - first) / timedelta(hours=1)) + 1
    hours = [first + timedelta(hours=i) for i in range(count)]
    return [(hour, contacts.get(hour, 0)) for hour in hours]


def _timeline(snap: Snapshot) -> str:
    points = [(hour.strftime("%b %d %H:00"), float(n)) for hour, n in timeline_points(snap.hourly)]
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
        "conversations": _conversations(c),
        "channels": _channels(snap),
        "suppressions": _suppressions(c),
        "timeline": _timeline(snap),
        "arms": _table(arms, sorted(arms), "Strategy / arm"),
        "buckets": _buckets(snap),
        "definitions": _definitions(),
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
