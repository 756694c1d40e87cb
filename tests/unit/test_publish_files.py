from __future__ import annotations

import io
import json
from pathlib import Path

from recaudo.events import DebtEvent, DebtorProfile
from recaudo.publish import Row, RowError, read_csv, read_events, read_jsonl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_files_are_entirely_valid() -> None:
    rows = list(read_events(EXAMPLES / "portfolio.jsonl")) + list(
        read_events(EXAMPLES / "debt-events.csv")
    )
    assert [r for r in rows if isinstance(r, RowError)] == []
    kinds = {type(r.event) for r in rows if isinstance(r, Row)}
    assert kinds == {DebtEvent, DebtorProfile}


def test_bad_rows_are_reported_with_line_and_reason_and_good_ones_kept() -> None:
    good = {
        "occurred_at": "2026-11-01T00:00:00Z",
        "debtor_id": "D",
        "account_id": "A",
        "type": "PAYMENT_RECEIVED",
        "payload": {"payment_id": "p1", "amount_minor": 100, "currency": "USD"},
    }
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "payload": {**good["payload"], "amount_minor": -1}}),
        json.dumps({**good, "payload": {**good["payload"], "currency": "DOLLARS"}}),
        json.dumps({"hello": "world"}),
        "",
        json.dumps({**good, "type": "PAYMENT_MISSED"}),
    ]
    rows = list(read_jsonl(io.StringIO("\n".join(lines)), "test"))
    errors = {r.line: r.reason for r in rows if isinstance(r, RowError)}
    assert [r.line for r in rows if isinstance(r, Row)] == [1]
    assert "not valid JSON" in errors[2]
    assert "negative" in errors[3]
    assert "unknown currency 'DOLLARS'" in errors[4]
    assert "cannot tell which event" in errors[5]
    assert "PaymentMissed" in errors[7] or "payload" in errors[7]


def test_missing_event_id_is_derived_from_content() -> None:
    line = json.dumps(
        {
            "occurred_at": "2026-11-01T00:00:00Z",
            "debtor_id": "D",
            "account_id": "A",
            "type": "DISPUTE_OPENED",
            "payload": {"dispute_id": "x", "reason": "y"},
        }
    )
    first = next(read_jsonl(io.StringIO(line), "s"))
    again = next(read_jsonl(io.StringIO(line), "s"))
    other = next(read_jsonl(io.StringIO(line.replace('"y"', '"z"')), "s"))
    assert isinstance(first, Row) and isinstance(again, Row) and isinstance(other, Row)
    assert first.event.event_id == again.event.event_id != other.event.event_id


def test_csv_rows() -> None:
    text = (
        "debtor_id,account_id,type,occurred_at,payment_id,amount_minor,currency,reason\n"
        "D1,A1,PAYMENT_RECEIVED,2026-11-01T10:00:00Z,P1,500,COP,\n"
        "D1,A1,PAYMENT_RECEIVED,2026-11-01T10:00:00Z,P2,500,COP,oops\n"
        "D1,A1,NOT_A_TYPE,2026-11-01T10:00:00Z,,,,\n"
    )
    rows = list(read_csv(io.StringIO(text), "bank"))
    assert isinstance(rows[0], Row) and rows[0].event.source == "bank"
    assert isinstance(rows[1], RowError) and rows[1].line == 3 and "reason" in rows[1].reason
    assert isinstance(rows[2], RowError) and rows[2].line == 4 and "NOT_A_TYPE" in rows[2].reason


def test_csv_header_must_have_envelope_columns() -> None:
    rows = list(read_csv(io.StringIO("debtor_id,amount_minor\nD,1\n"), "s"))
    assert len(rows) == 1 and isinstance(rows[0], RowError) and "account_id" in rows[0].reason
