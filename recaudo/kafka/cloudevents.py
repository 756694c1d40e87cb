"""CloudEvents Kafka protocol binding, binary mode: the Avro body is the event
data and the attributes travel as ``ce_*`` headers."""

from __future__ import annotations

from collections.abc import Sequence

from recaudo.contracts.records import Envelope

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/avro"

Headers = list[tuple[str, bytes]]


def ce_headers(event: Envelope, source: str | None = None) -> Headers:
    """``ce_id`` is the event_id, so a consumer can de-duplicate without decoding."""
    return [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", str(event.event_id).encode()),
        ("ce_type", event.ce_type.encode()),
        ("ce_source", (source or event.source).encode()),
        ("ce_time", event.occurred_at.isoformat().replace("+00:00", "Z").encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]


def header_value(headers: Sequence[tuple[str, bytes | None]] | None, name: str) -> str | None:
    """Last value of ``name`` as text, or None."""
    if not headers:
        return None
    found: str | None = None
    for key, value in headers:
        if key == name and value is not None:
            found = value.decode("utf-8", "replace")
    return found
