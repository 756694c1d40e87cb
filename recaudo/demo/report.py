"""The demo's results: a KPI summary for the terminal and a static HTML report.

Both read the KPI table and the debtor view the pipeline wrote (through the
dashboard's :func:`~recaudo.dashboard.data.read_snapshot`), never the bank
simulation's own counts, so they show what recaudo measured.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from recaudo.contracts.money import format_amounts
from recaudo.contracts.records import CHANNELS
from recaudo.dashboard.data import Snapshot
from recaudo.dashboard.lag import LagReport
from recaudo.dashboard.page import render_page
from recaudo.demo.driver import DemoPlan, DemoStats
from recaudo.kpis import figures as fig


def _counts(items: dict[str, int], limit: int = 5) -> str:
    top = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    more = len(items) - len(top)
    return ", ".join(f"{k} {v:,}" for k, v in top) + (f", +{more} more" if more > 0 else "")


def _row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<26}{value:>10}   {note}".rstrip()


def _figure(figure: fig.Figure, snap: Snapshot, note: str = "") -> str:
    """A figure under its dashboard name, with its value from the same counters."""
    return _row(figure.label, figure.format(snap.overall), note)


def summary(snap: Snapshot, plan: DemoPlan, stats: DemoStats, elapsed_s: float) -> str:
    """The KPI summary printed at the end of `recaudo demo`."""
    c = snap.overall
    channels = snap.members("CHANNEL")
    per_channel = " · ".join(f"{ch} {channels[ch].contacts:,}" for ch in CHANNELS if ch in channels)
    period = f"{plan.days} simulated days"
    if stats.phase != "done" and stats.simulated_now is not None:
        reached = max(0, min(plan.days, (stats.simulated_now - plan.start).days))
        period = f"{reached} of {plan.days} simulated days"
    lines = [
        f"recaudo demo: {plan.debtors:,} debtors, {period} "
        f"in {elapsed_s / 60:.1f} min (clock {plan.speed:,.0f}x real time)",
        f"  the bank published {stats.published:,} events; connectors reported on "
        f"{stats.dispatches_reported:,} dispatches; {stats.conversations:,} replies led to a "
        "payment or promise",
        "",
        "KPIs, as the pipeline computed them (kpi table; named as on the dashboard,",
        "which says what each means):",
        _figure(fig.CONTACTS, snap, per_channel),
        _figure(fig.DELIVERY_RATE, snap),
        _figure(fig.RIGHT_PARTY_RATE, snap, f"of {c.calls:,} calls"),
        _figure(fig.REPLY_RATE, snap, f"{c.replied:,} replies"),
        _figure(fig.PROMISE_RATE, snap, f"{c.promises:,} promises"),
        _figure(
            fig.PROMISE_KEPT_RATE, snap, f"{c.promises_kept:,} kept, {c.promises_broken:,} broken"
        ),
        _figure(fig.CONTACT_EPISODES, snap, "(not debtors: a debtor can have several)"),
        _figure(fig.CURED_AFTER_CONTACT, snap),
        _figure(
            fig.CURE_RATE,
            snap,
            f"{fig.cured_after_contact(c):,} of {fig.contact_episodes(c):,} contact episodes",
        ),
        _figure(fig.CONTACTS_PER_CURE, snap),
        _figure(fig.CURED_WITHOUT_CONTACT, snap),
        _figure(fig.PAYMENTS, snap, f"recovered {format_amounts(c.recovered_minor)}"),
        _row("Deferred", f"{c.deferred:,}", "(quiet hours, caps: sent later)"),
        _row("Suppressed", f"{c.suppressed:,}", _counts(c.suppressions)),
    ]
    if snap.debtors_by_bucket:
        buckets = ", ".join(f"{b} {n:,}" for b, n in snap.debtors_by_bucket.items())
        lines.append(_row("Debtors by bucket", f"{snap.debtors:,}", buckets))
    if snap.error:
        lines.append(f"  (reading Postgres failed: {snap.error})")
    if c.messages_read or c.conversations or c.handoffs:
        lines += [
            "",
            "Conversations (debtors' messages understood and answered by the pipeline):",
            _figure(
                fig.MESSAGES_UNDERSTOOD,
                snap,
                f"{c.messages_understood:,} of {c.messages_read:,} messages",
            ),
            _figure(fig.CONVERSATIONS, snap),
            _figure(
                fig.RESOLVED_WITHOUT_HUMAN,
                snap,
                f"{c.conversations_resolved:,} of {c.conversations:,} conversations",
            ),
            _figure(fig.CONVERSATION_PROMISES, snap),
            _figure(fig.CONVERSATION_PLANS, snap),
            _figure(fig.HANDOFFS, snap, _counts(c.handoff_reasons)),
            _figure(fig.ANSWER_P50, snap, f"{sum(c.answer_latency_ms.values()):,} answered"),
            _figure(fig.ANSWER_P90, snap),
        ]
    return "\n".join(lines)


def write_report(
    path: Path, snap: Snapshot, lag: LagReport, plan: DemoPlan, stats: DemoStats
) -> Path:
    """The dashboard as it stood at the end, as one self-contained HTML file."""
    intro = (
        f"recaudo demo: {plan.debtors:,} debtors over {plan.days} simulated days from "
        f"{plan.start:%Y-%m-%d}; the bank published {stats.published:,} events. "
        "Every figure below comes from the pipeline's KPI stream and debtor view."
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(snap, lag, 0, datetime.now(UTC), intro=intro), encoding="utf-8")
    return path
