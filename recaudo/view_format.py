"""A debtor view rendered for a person at a terminal."""

from __future__ import annotations

from datetime import datetime

from recaudo.events import DebtorView
from recaudo.money import format_money


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def render_view(view: DebtorView) -> str:
    flags = [name for name, on in view.flags.model_dump().items() if on]
    lines = [
        f"debtor {view.debtor_id}   bucket {view.bucket}   max DPD {view.max_days_past_due}"
        f"   version {view.version}   as of {_when(view.occurred_at)}",
        f"  profile: {view.language or '—'} · {view.time_zone or '—'} · {view.country or '—'}"
        f" · rules {view.jurisdiction or '—'} · risk {view.risk_segment or '—'}"
        f" · prefers {view.preferred_channel or '—'}"
        + (f" · FLAGS {', '.join(flags)}" if flags else ""),
    ]
    if view.totals:
        owed = ", ".join(
            f"{format_money(t.balance_minor, t.currency)}"
            f" (overdue {format_money(t.overdue_minor, t.currency)})"
            for t in view.totals
        )
        lines.append(f"  owes: {owed}")
    if view.last_payment_at and view.last_payment_minor is not None and view.last_payment_currency:
        lines.append(
            f"  last payment: {format_money(view.last_payment_minor, view.last_payment_currency)}"
            f" on {_when(view.last_payment_at)}"
        )
    lines.append("  accounts:")
    for a in view.accounts or ():
        due = f" next due {a.next_due_date}" if a.next_due_date else ""
        lines.append(
            f"    {a.account_id:<14} {a.status:<11} {a.bucket:<11} DPD {a.days_past_due:>3}  "
            f"balance {format_money(a.balance_minor, a.currency)}  "
            f"overdue {format_money(a.overdue_minor, a.currency)}{due}"
        )
    if view.promises:
        lines.append("  promises:")
        for p in view.promises:
            lines.append(
                f"    {p.promise_id:<10} {p.status:<8} {format_money(p.amount_minor, p.currency)}"
                f" by {p.promised_date} ({p.account_id})"
            )
    if view.disputes:
        lines.append("  disputes:")
        for d in view.disputes:
            lines.append(
                f"    {d.dispute_id:<10} {d.status:<9} {d.account_id} since {_when(d.opened_at)}"
            )
    if view.channels:
        lines.append(
            "  channels:        consent opt-out valid  sent deliv read reply fail  last contact"
        )
        for c in view.channels:
            yes = {True: "yes", False: "no"}
            lines.append(
                f"    {c.channel:<13} {yes[c.consent]:<7} {yes[c.opted_out]:<7} "
                f"{yes[c.valid]:<5} {c.sent:>5} {c.delivered:>5} {c.read:>4} "
                f"{c.replied:>5} {c.failed:>4}  {_when(c.last_contact_at)}"
            )
    return "\n".join(lines)
