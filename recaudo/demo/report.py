"""The demo's results: a KPI summary for the terminal and a static HTML report.

Both read the KPI table and the debtor view the pipeline wrote (through the
dashboard's :func:`~recaudo.dashboard.data.read_snapshot`), never the bank
simulation's own counts, so they show what recaudo measured.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from recaudo.dashboard.data import Snapshot
from recaudo.dashboard.lag import LagReport
from recaudo.dashboard.page import render_page
from recaudo.demo.driver import DemoPlan, DemoStats
from recaudo.events import CHANNELS
from recaudo.money import format_money


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _counts(items: dict[str, int], limit: int = 5) -> str:
    top = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    more = len(items) - len(top)
    return ", ".join(f"{k} {v:,}" for k, v in top) + (f", +{more} more" if more > 0 else "")


def summary(snap: Snapshot, plan: DemoPlan, stats: DemoStats, elapsed_s: float) -> str:
    """The KPI summary printed at the end of `recaudo demo`."""
    c = snap.overall
    r = c.rates()
    channels = snap.members("CHANNEL")
    per_channel = " · ".join(f"{ch} {channels[ch].contacts:,}" for ch in CHANNELS if ch in channels)
    recovered = " · ".join(format_money(v, cur) for cur, v in sorted(c.recovered_minor.items()))
    period = f"{plan.days} simulated days"
    if stats.phase != "done" and stats.simulated_now is not None:
        reached = max(0, min(plan.days, (stats.simulated_now - plan.start).days))
        period = f"{reached} of {plan.days} simulated days"
    lines = [
        f"recaudo demo: {plan.debtors:,} debtors, {period} "
        f"in {elapsed_s / 60:.1f} min (clock {plan.speed:,.0f}x real time)",
        f"  the bank published {stats.published:,} events; connectors reported on "
        f"{stats.contacts:,} contacts; {stats.conversations:,} replies led to a payment or promise",
        "",
        "KPIs, as the pipeline computed them (kpi table):",
        f"  {'contacts':<22}{c.contacts:>10,}   {per_channel}",
        f"  {'delivery rate':<22}{_pct(r.delivery_rate):>10}",
        f"  {'right-party rate':<22}{_pct(r.right_party_rate):>10}   of {c.calls:,} calls",
        f"  {'reply rate':<22}{_pct(r.reply_rate):>10}   {c.replied:,} replies",
        f"  {'promise-to-pay rate':<22}{_pct(r.promise_rate):>10}   {c.promises:,} promises",
        f"  {'promise-kept rate':<22}{_pct(r.promise_kept_rate):>10}   "
        f"{c.promises_kept:,} kept, {c.promises_broken:,} broken",
        f"  {'cure rate':<22}{_pct(r.cure_rate):>10}   "
        f"{c.contacted_cures:,} of {c.episodes:,} contacted debtors cured",
        f"  {'contacts per cure':<22}"
        f"{'—' if r.contacts_per_cure is None else f'{r.contacts_per_cure:.1f}':>10}",
        f"  {'payments':<22}{c.payments:>10,}   recovered {recovered or '0'}",
        f"  {'deferred':<22}{c.deferred:>10,}   (quiet hours, caps: sent later)",
        f"  {'suppressed':<22}{c.suppressed:>10,}   {_counts(c.suppressions)}",
    ]
    if snap.debtors_by_bucket:
        lines.append(
            f"  {'debtors by bucket':<22}{snap.debtors:>10,}   "
            + ", ".join(f"{b} {n:,}" for b, n in snap.debtors_by_bucket.items())
        )
    if snap.error:
        lines.append(f"  (reading Postgres failed: {snap.error})")
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
