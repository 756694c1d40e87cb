"""The textbook baselines of the view benchmark do recaudo's own work."""

from __future__ import annotations

import base64
import io

import fastavro

from bench.equal_work import fold
from recaudo.contracts.records import DebtEvent, DebtorView
from recaudo.demo.portfolio import generate
from recaudo.kafka.serde import fastavro_body, parsed_schema
from recaudo.view import DebtorState, apply, snapshot

FRAMING = b"\x00\x00\x00\x00\x01"


def _read(record: type[DebtEvent] | type[DebtorView], body: bytes) -> object:
    return fastavro.schemaless_reader(io.BytesIO(body), parsed_schema(record.avro_name), None)


def test_the_baseline_fold_gives_recaudos_states_snapshots_and_derived_events() -> None:
    events = [e for e in generate(40, days=20, seed=3) if isinstance(e, DebtEvent)]
    stored: dict[str, str] = {}
    states: dict[str, DebtorState] = {}
    derived_seen = 0
    for event in events:
        outputs = fold(stored.get(event.debtor_id), FRAMING + fastavro_body(event))
        stored[event.debtor_id] = outputs.state
        result = apply(states.get(event.debtor_id), event)
        states[event.debtor_id] = result.state
        assert outputs.snapshot == fastavro_body(snapshot(result.state, event.debtor_id))
        assert [_read(DebtEvent, d) for d in outputs.derived] == [
            _read(DebtEvent, fastavro_body(d)) for d in result.derived
        ]
        derived_seen += len(outputs.derived)
    assert derived_seen > 0
    for debtor_id, state in states.items():
        assert state == DebtorState.decode(base64.b64decode(stored[debtor_id]))
