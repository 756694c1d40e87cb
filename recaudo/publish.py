"""Reading events from files a bank exports: JSON Lines and CSV.

Each row becomes a validated event or a :class:`RowError` naming its line and
what is wrong; the valid rows are published either way.

* JSON Lines: one object per line, in the shape of the event's Avro record
  (``schemas/``). ``record`` names it (``DebtEvent``, ``DebtorProfile``,
  ``ChannelResponse``); without it, a ``type`` field means DebtEvent and
  ``contact_points`` means DebtorProfile.
* CSV: debt events only, one per row: the envelope columns (``debtor_id``,
  ``account_id``, ``type``, ``occurred_at``, optional ``event_id`` and
  ``source``) plus the payload's fields as columns; empty cells are absent.

A row without ``event_id`` gets one derived from its content (UUIDv5), so
publishing the same file twice publishes the same events, which the pipeline
then applies once.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import ValidationError

from recaudo.events import (
    PAYLOAD_BY_TYPE,
    RECORD_MODELS,
    ChannelResponse,
    DebtEvent,
    DebtorProfile,
    Envelope,
)
from recaudo.serde import describe_validation_error

FileFormat = Literal["jsonl", "csv"]

#: Namespace of content-derived event ids (uuid5); fixed forever.
ROW_NAMESPACE = uuid.UUID("5d6f1c1e-6a0b-4bb4-9a8e-3f3e2a4d9c10")

PUBLISHABLE: dict[str, type[Envelope]] = {
    name: RECORD_MODELS[name] for name in ("DebtEvent", "DebtorProfile", "ChannelResponse")
}
ENVELOPE_COLUMNS = ("event_id", "occurred_at", "source", "debtor_id", "account_id", "type")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    event: Envelope


def detect_format(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"cannot tell the format of {path.name}: use .jsonl or .csv, or --format")


def _with_event_id(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("event_id"):
        return data
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return {**data, "event_id": str(uuid.uuid5(ROW_NAMESPACE, canonical))}


def _model_for(data: dict[str, Any]) -> type[Envelope]:
    record = data.pop("record", None)
    if record is not None:
        try:
            return PUBLISHABLE[str(record)]
        except KeyError:
            raise ValueError(
                f"record {record!r} cannot be published from a file; "
                f"use one of {', '.join(PUBLISHABLE)}"
            ) from None
    if "type" in data:
        return DebtEvent
    if "contact_points" in data:
        return DebtorProfile
    if "status" in data and "channel" in data:
        return ChannelResponse
    raise ValueError('cannot tell which event this is: add "record": "DebtEvent" (or another)')


def _validate(line: int, data: dict[str, Any], default_source: str) -> Row | RowError:
    try:
        model = _model_for(data)
        data.setdefault("source", default_source)
        return Row(line, model.model_validate(_with_event_id(data)))
    except ValidationError as exc:
        return RowError(line, describe_validation_error(exc))
    except ValueError as exc:
        return RowError(line, str(exc))


def read_jsonl(text: TextIO, default_source: str) -> Iterator[Row | RowError]:
    for line_no, raw in enumerate(text, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowError(line_no, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(data, dict):
            yield RowError(line_no, "expected a JSON object")
            continue
        yield _validate(line_no, data, default_source)


def _csv_row_to_event(row: dict[str, str]) -> dict[str, Any]:
    cells = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()}
    event_type = cells.get("type", "")
    if event_type not in PAYLOAD_BY_TYPE:
        raise ValueError(f"type {event_type!r} is not a debt event type")
    payload_fields = PAYLOAD_BY_TYPE[event_type].model_fields
    unknown = set(cells) - set(ENVELOPE_COLUMNS) - set(payload_fields)
    if unknown:
        raise ValueError(f"columns {sorted(unknown)} do not belong to a {event_type} event")
    event: dict[str, Any] = {k: cells[k] for k in ENVELOPE_COLUMNS if k in cells}
    event["payload"] = {k: cells[k] for k in payload_fields if k in cells}
    return event


def read_csv(text: TextIO, default_source: str) -> Iterator[Row | RowError]:
    reader = csv.DictReader(text)
    missing = {"debtor_id", "account_id", "type", "occurred_at"} - set(reader.fieldnames or ())
    if missing:
        yield RowError(1, f"header lacks required columns {sorted(missing)}")
        return
    for row in reader:
        line_no = reader.line_num
        try:
            data = _csv_row_to_event(row)
        except ValueError as exc:
            yield RowError(line_no, str(exc))
            continue
        yield _validate(line_no, data, default_source)


def read_events(
    path: Path, fmt: FileFormat | None = None, default_source: str = "recaudo-publish"
) -> Iterator[Row | RowError]:
    fmt = fmt or detect_format(path)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = read_jsonl if fmt == "jsonl" else read_csv
        yield from reader(fh, default_source)
