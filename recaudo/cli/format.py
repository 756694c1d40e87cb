"""What recaudo shows a person at a terminal: a debtor view, and the tables of
the commands that list debtors, decisions, dispatches, dead letters and KPIs."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from recaudo.contracts.money import format_money
from recaudo.contracts.records import ContactDecision, DeadLetter, DebtorView, DispatchCommand
from recaudo.kpis import Counters
from recaudo.kpis.figures import (
    CONTACTS,
    CONVERSATION,
    CURED_AFTER_CONTACT,
    DELIVERY_RATE,
    HEADLINE,
    PROMISE_KEPT_RATE,
    RECOVERED_DEFINITION,
    REPLY_RATE,
    recovered_lines,
)

#: Longest text a table cell shows (the --json output has all of it).
CELL_WIDTH = 60


def render_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, keep_last_whole: bool = False
) -> str:
    """Columns padded to their widest cell, a header row first; a column
    whose cells are all numbers (counts, amounts, percentages; empty or a
    dash) is right-aligned. Cells are cut at CELL_WIDTH, the last column's are left
    whole with ``keep_last_whole``."""
    last = len(header) - 1
    shown = [
        [cell if keep_last_whole and i == last else _clip(cell) for i, cell in enumerate(row)]
        for row in rows
    ]
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(header)]
    numeric = [bool(shown) and all(_is_number(r[i]) for r in shown) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if right else c.ljust(w)
            for c, w, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(header), *(line(r) for r in shown)])


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


_NUMBER = re.compile(r"[+-]?[\d,.]+%?|—|")


def _is_number(cell: str) -> bool:
    return _NUMBER.fullmatch(cell) is not None


def _minute(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


DEBTOR_HEADER = ("DEBTOR", "BUCKET", "DPD", "OWES")


def debtor_row(view: DebtorView) -> list[str]:
    owed = ", ".join(format_money(t.balance_minor, t.currency) for t in view.totals) or "—"
    return [view.debtor_id, view.bucket, str(view.max_days_past_due), owed]


DECISION_HEADER = (
    "WHEN (UTC)",
    "DEBTOR",
    "TRIGGER",
    "STEP",
    "CHANNEL",
    "OUTCOME",
    "REASONS",
    "STRATEGY/ARM",
    "DISPATCH",
)


def decision_row(d: ContactDecision) -> list[str]:
    reasons = ", ".join(sorted({hit.reason_code for hit in d.rules_fired})) or "—"
    arm = "/".join(x for x in (d.strategy, d.arm) if x) or "—"
    return [
        _minute(d.occurred_at),
        d.debtor_id,
        d.trigger,
        str(d.step),
        d.channel or "—",
        d.outcome,
        reasons,
        arm,
        d.dispatch_id or "—",
    ]


DISPATCH_HEADER = (
    "DECIDED (UTC)",
    "NOT BEFORE",
    "DEBTOR",
    "CHANNEL",
    "TEMPLATE",
    "STEP",
    "STATUS",
    "DISPATCH",
)


def dispatch_row(d: DispatchCommand, status: str | None) -> list[str]:
    return [
        _minute(d.occurred_at),
        _minute(d.not_before),
        d.debtor_id,
        d.channel,
        d.template,
        str(d.step),
        status or "no response yet",
        d.dispatch_id,
    ]


DEAD_LETTER_HEADER = ("ID", "WHEN (UTC)", "SOURCE", "ERROR", "REASON", "KEY")


def readable_bytes(data: bytes | None) -> str:
    """Bytes for a person: the text if they are printable UTF-8, else their
    length (the --json output has them in base64)."""
    if data is None:
        return "—"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(data)} bytes, not UTF-8>"
    return text if text.isprintable() else repr(text)


def dead_letter_row(letter: DeadLetter) -> list[str]:
    return [
        str(letter.event_id),
        _minute(letter.occurred_at),
        f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}",
        letter.error_type,
        letter.error_message,
        readable_bytes(letter.key),
    ]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def dead_letter_json(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as plain JSON: bytes (key, value, header values) in
    base64, the key also as text when it is UTF-8."""
    try:
        key_text = letter.key.decode("utf-8") if letter.key is not None else None
    except UnicodeDecodeError:
        key_text = None
    return {
        "id": str(letter.event_id),
        "occurred_at": letter.occurred_at.isoformat(),
        "source": letter.source,
        "consumer_group": letter.consumer_group,
        "source_topic": letter.source_topic,
        "source_partition": letter.source_partition,
        "source_offset": letter.source_offset,
        "source_timestamp": (
            letter.source_timestamp.isoformat() if letter.source_timestamp else None
        ),
        "error_type": letter.error_type,
        "error_message": letter.error_message,
        "key": key_text,
        "key_base64": _b64(letter.key),
        "value_base64": _b64(letter.value),
        "headers": [{"key": h.key, "value_base64": _b64(h.value)} for h in letter.headers],
    }


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def render_view(view: DebtorView) -> str:
    flags = [name for name, on in view.flags.model_dump().items() if on]
    lines = [
        f"debtor {view.debtor_id}   bucket {view.bucket}   max DPD {view.max_days_past_due}"
        f"   version {view.version}   updated {_when(view.occurred_at)}"
        " (days past due as of today)",
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


def kpi_overall_table(c: Counters) -> str:
    """The headline figures, named and defined as on the dashboard; money one
    line per currency."""
    rows = [[f.label, f.format(c), f.definition] for f in HEADLINE]
    money = recovered_lines(c.recovered_minor) or ["0"]
    rows.append(["Recovered", money[0], RECOVERED_DEFINITION])
    rows.extend(["", line, ""] for line in money[1:])
    rows.append(["Deferred", f"{c.deferred:,}", "Decisions deferred (quiet hours, caps)."])
    rows.append(["Suppressed", f"{c.suppressed:,}", "Decisions suppressed by a rule."])
    if c.messages_read or c.conversations or c.handoffs:
        rows.extend([f.label, f.format(c), f.definition] for f in CONVERSATION)
    return render_table(("FIGURE", "VALUE", "DEFINITION"), rows, keep_last_whole=True)


def kpi_members_table(first: str, members: Sequence[tuple[str, Counters]]) -> str:
    """One row per member, the dashboard's table columns; a member's money
    one line per currency."""
    header = (
        first.upper(),
        CONTACTS.label.upper(),
        DELIVERY_RATE.label.upper(),
        REPLY_RATE.label.upper(),
        "PROMISES",
        PROMISE_KEPT_RATE.label.upper(),
        CURED_AFTER_CONTACT.label.upper(),
        "SUPPRESSED",
        "RECOVERED",
    )
    rows: list[list[str]] = []
    for member, c in members:
        money = recovered_lines(c.recovered_minor) or ["0"]
        rows.append(
            [
                member,
                CONTACTS.format(c),
                DELIVERY_RATE.format(c),
                REPLY_RATE.format(c),
                f"{c.promises:,}",
                PROMISE_KEPT_RATE.format(c),
                CURED_AFTER_CONTACT.format(c),
                f"{c.suppressed:,}",
                money[0],
            ]
        )
        rows.extend([*([""] * (len(header) - 1)), line] for line in money[1:])
    return render_table(header, rows)


def kpi_json(dimension: str, member: str, c: Counters, last_event_at: Any) -> dict[str, Any]:
    """A member's figures (by their keys), counters and money, as JSON."""
    return {
        "dimension": dimension,
        "member": member,
        "last_event_at": last_event_at.isoformat() if last_event_at else None,
        "figures": {f.key: f.value(c) for f in HEADLINE},
        "recovered_minor": dict(c.recovered_minor),
        "counters": c.to_dict(),
    }
