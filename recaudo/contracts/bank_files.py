"""Reading events from files a bank exports: JSON Lines and CSV.

Each row becomes a validated event or a :class:`RowError` naming its line, what
is wrong and the row's text as the file has it; the valid rows are published
either way, and the rejected ones are kept (:class:`RejectsFile`).

* JSON Lines: one object per line, in the shape of the event's Avro record
  (``schemas/``). ``record`` names it (``DebtEvent``, ``DebtorProfile``,
  ``ChannelResponse``); without it, a ``type`` field means DebtEvent and
  ``contact_points`` means DebtorProfile.
* CSV: debt events only, one per row: the envelope columns (``debtor_id``,
  ``account_id``, ``type``, ``occurred_at``, optional ``event_id`` and
  ``source``) plus the payload's fields as columns; empty cells are absent.
  Money columns (``amount_minor``, ``balance_minor``, ...) are whole minor
  units; the same name without ``_minor`` (``amount``, ``balance``, ...) takes
  major units with decimals, converted with the row's ``currency``. The
  header is checked before any row: an unknown column refuses the whole file,
  naming the closest valid one.

Files as spreadsheets save them are read as they are: UTF-8 with or without a
byte-order mark, UTF-16 with one, else Windows-1252 (cp1252, which reads
Latin-1 text too); any line endings; the CSV delimiter (``,`` ``;`` tab ``|``)
found from the header; decimal commas when the file is ``;``-separated (the
spreadsheet default where the comma is the decimal separator). Each of these
can be given instead.

A row without ``event_id`` gets one derived from its content (UUIDv5), so
publishing the same file twice publishes the same events, which the pipeline
then applies once.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, TextIO

from pydantic import ValidationError

from recaudo.contracts.money import MINOR_UNITS, check_currency
from recaudo.contracts.records import (
    BANK_TYPES,
    DERIVED_TYPES,
    PAYLOAD_BY_TYPE,
    RECORD_MODELS,
    ChannelResponse,
    DebtEvent,
    DebtorProfile,
    Envelope,
    derived_type_message,
    unknown_type_message,
)
from recaudo.kafka.serde import describe_validation_error
from recaudo.process.lifecycle import Closeable

FileFormat = Literal["jsonl", "csv"]

#: Namespace of content-derived event ids (uuid5); fixed forever.
ROW_NAMESPACE = uuid.UUID("5d6f1c1e-6a0b-4bb4-9a8e-3f3e2a4d9c10")

PUBLISHABLE: dict[str, type[Envelope]] = {
    name: RECORD_MODELS[name] for name in ("DebtEvent", "DebtorProfile", "ChannelResponse")
}
ENVELOPE_COLUMNS = ("event_id", "occurred_at", "source", "debtor_id", "account_id", "type")
REQUIRED_COLUMNS = ("debtor_id", "account_id", "type", "occurred_at")
MONEY_SUFFIX = "_minor"
PAYLOAD_COLUMNS: frozenset[str] = frozenset(
    name for t in BANK_TYPES for name in PAYLOAD_BY_TYPE[t].model_fields
)
#: Amount columns in major units, by the minor-unit field they fill.
MAJOR_UNIT_COLUMNS: dict[str, str] = {
    name.removesuffix(MONEY_SUFFIX): name for name in PAYLOAD_COLUMNS if name.endswith(MONEY_SUFFIX)
}
CSV_COLUMNS: tuple[str, ...] = (
    *ENVELOPE_COLUMNS,
    *sorted(PAYLOAD_COLUMNS),
    *sorted(MAJOR_UNIT_COLUMNS),
)
DELIMITERS: dict[str, str] = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
BOM = "\ufeff"


class FileError(ValueError):
    """The file as a whole cannot be read (encoding, header): nothing in it is published."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str
    #: The row as the file has it, without its final line break.
    text: str = ""

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
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    raise ValueError(f"cannot tell the format of {path.name}: use .jsonl or .csv, or --format")


# --- text encoding -----------------------------------------------------------------


def _decode_error(fh: IO[bytes], encoding: str) -> UnicodeDecodeError | None:
    """Where ``fh`` (from its start) fails to decode as ``encoding``, if it does."""
    fh.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    try:
        while chunk := fh.read(1 << 20):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return UnicodeDecodeError(
            exc.encoding, exc.object, offset + exc.start, offset + exc.end, exc.reason
        )
    return None


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """The encoding to read ``path`` with; FileError when it does not decode.

    Without ``encoding``: a byte-order mark decides (UTF-8, UTF-16); else UTF-8
    if the whole file decodes as UTF-8; else Windows-1252, the other encoding
    spreadsheets save text in.
    """
    with path.open("rb") as fh:
        if encoding is not None:
            try:
                name = codecs.lookup(encoding).name
            except LookupError:
                raise FileError(
                    f"unknown encoding {encoding!r} (e.g. utf-8, cp1252, latin-1, utf-16)"
                ) from None
            # A BOM in a file named as UTF-8 is the spreadsheet's, not text.
            name = "utf-8-sig" if name == "utf-8" else name
            err = _decode_error(fh, name)
            if err is not None:
                raise FileError(
                    f"{path.name} is not {encoding}: byte 0x{err.object[err.start]:02x} at "
                    f"offset {err.start} does not decode; name its encoding with --encoding"
                )
            return name
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if b"\x00" in fh.read(4096) or b"\x00" in head:
            raise FileError(
                f"{path.name} has NUL bytes: UTF-16 without a byte-order mark? "
                "Name its encoding with --encoding (e.g. --encoding utf-16-le)"
            )
        if _decode_error(fh, "utf-8") is None:
            return "utf-8"
        if _decode_error(fh, "cp1252") is None:
            return "cp1252"
    raise FileError(
        f"{path.name} is neither UTF-8 nor Windows-1252 text: "
        "name its encoding with --encoding (e.g. --encoding latin-1, --encoding utf-16)"
    )


class _Lines:
    """A text's lines, remembering those taken since the last record ended."""

    def __init__(self, text: TextIO) -> None:
        self._lines = iter(text)
        self._taken: list[str] = []
        self.line_no = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if self.line_no == 0:
            line = line.removeprefix(BOM)
        self.line_no += 1
        self._taken.append(line)
        return line

    def take(self) -> tuple[int, str]:
        """The first line number and the text of the lines taken since the last call."""
        first = self.line_no - len(self._taken) + 1
        text = "".join(self._taken).removesuffix("\n").removesuffix("\r")
        self._taken.clear()
        return first, text


# --- rows to events ----------------------------------------------------------------


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


def _validate(line: int, text: str, data: dict[str, Any], default_source: str) -> Row | RowError:
    try:
        model = _model_for(data)
        event_type = data.get("type")
        if model is DebtEvent and isinstance(event_type, str) and event_type in DERIVED_TYPES:
            return RowError(line, f"type: {derived_type_message(event_type)}", text)
        data.setdefault("source", default_source)
        return Row(line, model.model_validate(_with_event_id(data)))
    except ValidationError as exc:
        return RowError(line, describe_validation_error(exc), text)
    except ValueError as exc:
        return RowError(line, str(exc), text)


def read_jsonl(text: TextIO, default_source: str) -> Iterator[Row | RowError]:
    lines = _Lines(text)
    for raw in lines:
        line_no, original = lines.take()
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            # exc.msg ends where a position would follow ("... starting at").
            yield RowError(line_no, f"not valid JSON: {exc.msg} (column {exc.colno})", original)
            continue
        if not isinstance(data, dict):
            yield RowError(line_no, "expected a JSON object", original)
            continue
        yield _validate(line_no, original, data, default_source)


# --- CSV ---------------------------------------------------------------------------

_SPACE_GROUPS = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+"


def _number_pattern(decimal: str, group: str) -> re.Pattern[str]:
    whole = rf"(?:\d+|\d{{1,3}}(?:{re.escape(group)}\d{{3}})+|{_SPACE_GROUPS})"
    return re.compile(rf"[+-]?{whole}(?:{re.escape(decimal)}\d+)?")


_DECIMAL_POINT = _number_pattern(".", ",")
_DECIMAL_COMMA = _number_pattern(",", ".")


def parse_decimal(text: str, decimal_comma: bool) -> Decimal:
    """A number as spreadsheets write it: ``1234.5``, ``1,234.50``, or with a
    decimal comma ``1234,5``, ``1.234,50``; spaces may group thousands."""
    pattern, other = (
        (_DECIMAL_COMMA, _DECIMAL_POINT) if decimal_comma else (_DECIMAL_POINT, _DECIMAL_COMMA)
    )
    if not pattern.fullmatch(text):
        if other.fullmatch(text):
            raise ValueError(
                f"{text!r} is written with a decimal "
                + (
                    "point, but the file is read with decimal commas: pass --decimal-point"
                    if decimal_comma
                    else "comma, but the file is read with decimal points: pass --decimal-comma"
                )
            )
        raise ValueError(f"{text!r} is not a number")
    group, point = (".", ",") if decimal_comma else (",", ".")
    digits = re.sub(r"[ \u00a0\u202f]", "", text.replace(group, ""))
    return Decimal(digits.replace(point, "."))


def _minor_units(column: str, text: str, decimal_comma: bool) -> str:
    value = parse_decimal(text, decimal_comma)
    if value != value.to_integral_value():
        raise ValueError(
            f"{column} {text!r} is not a whole number of minor units (cents); amounts "
            f"with decimals go in a {column.removesuffix(MONEY_SUFFIX)!r} column instead"
        )
    return str(int(value))


def _major_to_minor(column: str, text: str, currency: str | None, decimal_comma: bool) -> str:
    if currency is None:
        raise ValueError(f"{column} is in major units: the row needs its currency")
    check_currency(currency)
    exponent = MINOR_UNITS[currency]
    value = parse_decimal(text, decimal_comma).scaleb(exponent)
    if value != value.to_integral_value():
        raise ValueError(f"{column} {text!r} has more decimals than {currency} has ({exponent})")
    return str(int(value))


def detect_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most recognised columns."""
    best, best_key = ",", (-1, -1)
    for delimiter in DELIMITERS:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        key = (sum(_column_name(c) in CSV_COLUMNS for c in cells), len(cells))
        if key > best_key:
            best, best_key = delimiter, key
    return best


def _column_name(cell: str) -> str:
    return cell.strip().lower()


def check_header(names: list[str], delimiter: str) -> None:
    """FileError naming every problem of a CSV header, with the closest valid
    name for each unknown column."""
    problems = []
    unknown = [n for n in names if n and n not in CSV_COLUMNS]
    guessed = True
    for name in unknown:
        close = difflib.get_close_matches(name, CSV_COLUMNS, n=1, cutoff=0.6)
        guessed = guessed and bool(close)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"unknown column {name!r}{hint}")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)}")
    for name in sorted({n for n in names if n and names.count(n) > 1}):
        problems.append(f"column {name!r} appears more than once")
    for major, minor in sorted(MAJOR_UNIT_COLUMNS.items()):
        if major in names and minor in names:
            problems.append(f"columns {major!r} and {minor!r} are the same amount: keep one")
    if not problems:
        return
    message = "header: " + "; ".join(problems)
    if len(names) == 1:
        others = [d for d in DELIMITERS if d != delimiter and d in names[0]]
        if others:
            message += (
                f" (read as {DELIMITERS[delimiter]}-separated, but the header has "
                f"{DELIMITERS[others[0]]}s: pass --delimiter)"
            )
    if not guessed:
        message += f". Valid columns: {', '.join(CSV_COLUMNS)}"
    raise FileError(message)


class CsvReader:
    """Debt events from a CSV text, header checked on construction (FileError)."""

    def __init__(
        self,
        text: TextIO,
        default_source: str,
        delimiter: str | None = None,
        decimal_comma: bool | None = None,
    ) -> None:
        self._lines = _Lines(text)
        self._source = default_source
        header_line = ""
        for line in self._lines:
            if line.strip():
                header_line = line
                break
        if not header_line:
            raise FileError("the file is empty: expected a header row of column names")
        self.delimiter = delimiter or detect_delimiter(header_line)
        self.decimal_comma = self.delimiter == ";" if decimal_comma is None else decimal_comma
        cells = next(csv.reader([header_line], delimiter=self.delimiter))
        self.columns = [_column_name(c) for c in cells]
        check_header(self.columns, self.delimiter)
        self._lines.take()

    def __iter__(self) -> Iterator[Row | RowError]:
        for cells in csv.reader(self._lines, delimiter=self.delimiter):
            line_no, original = self._lines.take()
            if not any(c.strip() for c in cells):
                continue  # blank lines, and the empty rows spreadsheets leave
            try:
                data = self._event(cells)
            except ValueError as exc:
                yield RowError(line_no, str(exc), original)
                continue
            yield _validate(line_no, original, data, self._source)

    def _event(self, row: list[str]) -> dict[str, Any]:
        cells: dict[str, str] = {}
        for i, raw in enumerate(row):
            value = raw.strip()
            if not value:
                continue
            if i >= len(self.columns):
                raise ValueError(f"the row has {len(row)} cells, the header {len(self.columns)}")
            if not self.columns[i]:
                raise ValueError(f"cell {i + 1} ({value!r}) is under no column name")
            cells[self.columns[i]] = value
        event_type = cells.get("type", "")
        if event_type in DERIVED_TYPES:
            raise ValueError(f"type: {derived_type_message(event_type)}")
        if event_type not in PAYLOAD_BY_TYPE:
            raise ValueError(f"type: {unknown_type_message(event_type)}")
        payload_fields = PAYLOAD_BY_TYPE[event_type].model_fields
        majors = {k for k, v in MAJOR_UNIT_COLUMNS.items() if v in payload_fields}
        unknown = set(cells) - set(ENVELOPE_COLUMNS) - set(payload_fields) - majors
        if unknown:
            raise ValueError(f"columns {sorted(unknown)} do not belong to a {event_type} event")
        payload: dict[str, Any] = {}
        for name in payload_fields:
            major = name.removesuffix(MONEY_SUFFIX)
            if name in cells:
                is_money = name.endswith(MONEY_SUFFIX)
                payload[name] = (
                    _minor_units(name, cells[name], self.decimal_comma) if is_money else cells[name]
                )
            elif major in majors and major in cells:
                payload[name] = _major_to_minor(
                    major, cells[major], cells.get("currency"), self.decimal_comma
                )
        event: dict[str, Any] = {k: cells[k] for k in ENVELOPE_COLUMNS if k in cells}
        event["payload"] = payload
        return event


def read_csv(
    text: TextIO,
    default_source: str,
    delimiter: str | None = None,
    decimal_comma: bool | None = None,
) -> CsvReader:
    return CsvReader(text, default_source, delimiter, decimal_comma)


# --- files -------------------------------------------------------------------------


class EventFile(Closeable):
    """An open file of events: its format, encoding and CSV dialect settled and
    its header checked on opening (FileError), its rows on iteration."""

    def __init__(
        self,
        path: Path,
        fmt: FileFormat | None = None,
        default_source: str = "recaudo-publish",
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
        decimal_comma: bool | None = None,
    ) -> None:
        self.path = path
        self.format: FileFormat = fmt or detect_format(path)
        self.encoding = detect_encoding(path, encoding)
        self._fh = path.open(encoding=self.encoding, newline="")
        self._csv: CsvReader | None = None
        self._source = default_source
        if self.format == "csv":
            try:
                self._csv = CsvReader(self._fh, default_source, delimiter, decimal_comma)
            except BaseException:
                self._fh.close()
                raise

    def describe(self) -> str:
        """How the file is read, e.g. ``CSV, semicolon-separated, decimal commas, cp1252``."""
        parts = [self.format.upper()]
        if self._csv is not None:
            parts.append(
                f"{DELIMITERS.get(self._csv.delimiter, repr(self._csv.delimiter))}-separated"
            )
            parts.append("decimal commas" if self._csv.decimal_comma else "decimal points")
        parts.append(
            {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8"}.get(self.encoding, self.encoding)
        )
        return ", ".join(parts)

    def __iter__(self) -> Iterator[Row | RowError]:
        if self._csv is not None:
            return iter(self._csv)
        return read_jsonl(self._fh, self._source)

    def close(self) -> None:
        self._fh.close()


def read_events(
    path: Path, fmt: FileFormat | None = None, default_source: str = "recaudo-publish"
) -> Iterator[Row | RowError]:
    with EventFile(path, fmt, default_source) as events:
        yield from events


# --- rejected rows -----------------------------------------------------------------


def rejects_path_for(path: Path) -> Path:
    """Where the rows of ``path`` that were not published are kept: beside it."""
    return path.with_name(path.name + ".rejects.jsonl")


class RejectsFile(Closeable):
    """The rows a publish rejected, one JSON object a line: ``file``, ``line``,
    ``reason`` and ``text`` (the row as the input has it).

    Created at the first reject; when a publish rejects nothing, the file an
    earlier publish left is removed, so it always describes the latest one.
    """

    def __init__(self, path: Path, source: Path) -> None:
        # Checked before anything is published: a reject must never be lost
        # for want of a place to keep it.
        if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
            raise FileError(
                f"cannot write the rejects file {path} (no such folder, or not writable): "
                "name another with --rejects"
            )
        self.path = path
        self.count = 0
        self._source = source.name
        self._fh: TextIO | None = None

    def add(self, error: RowError) -> None:
        if self._fh is None:
            self._fh = self.path.open("w", encoding="utf-8", newline="\n")
        record = {
            "file": self._source,
            "line": error.line,
            "reason": error.reason,
            "text": error.text,
        }
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        elif self.path.exists():
            self.path.unlink()
