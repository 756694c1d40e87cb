"""bench.layers turns a speed layer off without changing what recaudo writes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.layers import LAYERS, parse

# Run in a child: the switches patch the process they run in.
CHECK = """
from datetime import UTC, datetime
from bench.layers import turn_off
from recaudo.contracts.records import DebtEvent
from recaudo.kafka.serde import encoder_for
from streams import processor as runtime

event = DebtEvent(
    occurred_at=datetime(2026, 11, 18, tzinfo=UTC), source="crm", debtor_id="D-1",
    account_id="D-1-1", type="PAYMENT_MISSED",
    payload={"instalment_number": 1, "amount_minor": 100, "currency": "USD",
             "due_date": "2026-11-17"},
)
compiled = encoder_for(event.avro_name, b"H")(event)
turn_off(["encoders", "poll", "held", "decode"])
from recaudo.kafka import serde
plain = serde.encoder_for(event.avro_name, b"H")
assert plain(event) == compiled, "fastavro writes other bytes than the compiled encoder"
assert plain.__module__ == "bench.layers"
assert runtime.Application.__module__ == "bench.layers"
from recaudo.settings import Settings
assert Settings().view_held_debtors == 1
print("ok")
"""


def test_layers_off_write_the_same_bytes_and_records() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


def test_unknown_layers_are_refused_with_the_choices() -> None:
    assert parse("none") == []
    assert parse("poll, held") == ["poll", "held"]
    with pytest.raises(SystemExit, match=", ".join(LAYERS)):
        parse("poll,jit")
