"""The work of recaudo's debtor view done the straightforward way, for the
textbook baselines of bench/view_bench.py (quixstreams and faust-streaming).

Per event: decode the Confluent-framed Avro debt event with fastavro and
validate it with pydantic; fold it into the debtor's state with recaudo's own
reducer (``recaudo.view.apply``); write the debtor's snapshot and the derived
events as Avro with fastavro from ``model_dump``. The state is stored between
events in recaudo's own compact encoding, base64 for a JSON state store.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import fastavro

from recaudo.contracts.records import DebtEvent, DebtorView
from recaudo.kafka.serde import parsed_schema
from recaudo.view import DebtorState, apply, snapshot

_FRAMING = 5  # magic byte and schema id


@dataclass
class Outputs:
    """The new state to store and the Avro bodies to publish for one event."""

    state: str
    snapshot: bytes
    derived: list[bytes] = field(default_factory=list)


def _avro(record: DebtEvent | DebtorView) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed_schema(record.avro_name), record.to_avro())
    return out.getvalue()


def decode(value: bytes) -> DebtEvent:
    record = fastavro.schemaless_reader(
        io.BytesIO(value[_FRAMING:]), parsed_schema(DebtEvent.avro_name), None
    )
    return DebtEvent.from_avro(record)  # type: ignore[arg-type]


def fold(stored: str | None, value: bytes) -> Outputs:
    """One event's work, from its bytes and the debtor's stored state."""
    event = decode(value)
    state = DebtorState.decode(base64.b64decode(stored)) if stored else None
    result = apply(state, event)
    return Outputs(
        state=base64.b64encode(result.state.encode()).decode(),
        snapshot=_avro(snapshot(result.state, event.debtor_id)),
        derived=[_avro(d) for d in result.derived],
    )
