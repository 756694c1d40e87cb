"""A Twilio connector killed with SIGKILL in the middle of a batch and started
again: the provider (a fake Twilio in its own process) created every
dispatch's message exactly once. None lost, none twice.

What makes it hold: offsets are committed only after a batch's outcomes are
on the topic, so the killed batch is consumed again; the sent-ledger answers
what was recorded; and what was sent but not recorded goes to Twilio again
with the same ``I-Twilio-Idempotency-Token``, which returns the first answer.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recaudo.events import ChannelResponse, DispatchCommand
from recaudo.producer import RecaudoProducer
from recaudo.serde import Serde
from recaudo.settings import Settings, env_for_children
from tests.fakes import providers as fake
from tests.integration.kafka_io import consume_all

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DISPATCHES = 300


@pytest.fixture
def fake_twilio(tmp_path: Path) -> Iterator[str]:
    """The fake provider in a process of its own; yields its base URL."""
    port_file = tmp_path / "fake.port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.providers",
            "--port-file",
            str(port_file),
            "--latency-ms",
            "200",
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert proc.poll() is None, "the fake provider exited"
            assert time.monotonic() < deadline, "the fake provider did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        proc.terminate()
        proc.wait(10)


def counts(base_url: str) -> dict[str, dict[str, int]]:
    with urllib.request.urlopen(f"{base_url}/_fake/counts", timeout=5) as reply:
        data: dict[str, dict[str, int]] = json.loads(reply.read())
    return data


def command(i: int) -> DispatchCommand:
    now = datetime.now(UTC)
    return DispatchCommand(
        occurred_at=now,
        source="test",
        debtor_id=f"D-{i % 50}",
        dispatch_id=f"kill-{i}",
        channel="sms",
        address=f"+5730011{i:05d}",
        template="reminder",
        locale="es",
        body="Hola, su cuota vence pronto",
        not_before=now - timedelta(seconds=1),
        expires_at=now + timedelta(hours=1),
        trigger="payment_missed",
        step=0,
    )


def start_connector(settings: Settings, base_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = env_for_children(
        settings,
        RECAUDO_TWILIO_ACCOUNT_SID=fake.ACCOUNT_SID,
        RECAUDO_TWILIO_AUTH_TOKEN=fake.AUTH_TOKEN,
        RECAUDO_TWILIO_FROM_NUMBER="+15005550006",
        RECAUDO_TWILIO_BASE_URL=base_url,
        # The same static member: the restarted replica takes the killed
        # one's partitions at once instead of waiting out its session.
        RECAUDO_INSTANCE_ID="kill-test",
        RECAUDO_LOG_LEVEL="WARNING",
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "recaudo",
                "connector",
                "run",
                "--channel",
                "sms",
                "--provider",
                "twilio",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(
    condition: object, timeout_s: float, what: str, proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while not (callable(condition) and condition()):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what}: connector exit {proc.poll()}\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


def test_killed_mid_batch_and_restarted_sends_every_dispatch_exactly_once(
    topics_ready: Settings, fake_twilio: str, tmp_path: Path
) -> None:
    serde = Serde(topics_ready)
    commands = [command(i) for i in range(DISPATCHES)]
    with RecaudoProducer(topics_ready, serde) as producer:
        for cmd in commands:
            producer.publish(cmd)
    log = tmp_path / "connector.log"

    first = start_connector(topics_ready, fake_twilio, log)
    # Concurrency 64 and 200 ms per call: a batch of 300 takes about a
    # second; kill once the first wave of calls is in.
    wait_for(
        lambda: sum(counts(fake_twilio)["requests"].values()) >= 64, 40, "no sends", first, log
    )
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = counts(fake_twilio)
    assert len(at_kill["requests"]) < DISPATCHES, "killed too late: the batch had finished"

    second = start_connector(topics_ready, fake_twilio, log)
    try:
        wait_for(
            lambda: len(counts(fake_twilio)["created"]) >= DISPATCHES,
            40,
            "not every dispatch was sent",
            second,
            log,
        )
        topic = serde.topics.channel_responses
        accepted: set[str] = set()
        deadline = time.monotonic() + 30
        while len(accepted) < DISPATCHES and time.monotonic() < deadline:
            for m in consume_all(topics_ready, topic, expected=DISPATCHES, timeout_s=5):
                r = serde.deserialize(topic, m.value())
                if isinstance(r, ChannelResponse) and r.status == "ACCEPTED" and r.dispatch_id:
                    accepted.add(r.dispatch_id)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)

    final = counts(fake_twilio)
    expected = {c.dispatch_id for c in commands}
    assert final["created"] == dict.fromkeys(expected, 1), "a dispatch was lost or sent twice"
    assert accepted == expected
    # The killed batch really was sent again, and the idempotency token is
    # what kept those repeats from becoming second messages.
    repeated = {k for k, n in final["requests"].items() if n > 1}
    assert repeated and repeated <= set(at_kill["requests"])
