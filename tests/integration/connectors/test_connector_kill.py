"""A connector killed with SIGKILL in the middle of a batch and started again
calls its provider at most once per dispatch, and every dispatch gets an
outcome on ``channel-responses``.

The provider is the generic webhook, served by a fake receiver in a process
of its own that counts POSTs per ``Idempotency-Key`` (the dispatch id) and
creates a message for every POST it has not seen, whatever the key says:
here a second POST would be counted, so the connector must never make one.

Sends the provider answered before the kill are answered from the sent-ledger
after it; sends it had in hand when the process died are, when the receiver
cannot be asked, reported ``OUTCOME_UNKNOWN`` and not sent again, and when it
can (``RECAUDO_WEBHOOK_LOOKUP``), looked up and reported as the receiver says.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from recaudo.contracts.records import ChannelResponse, DispatchCommand
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings, env_for_children
from tests.fakes import providers as fake

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DISPATCHES = 300
#: Calls the provider has received when the connector is killed: with the
#: default 32 connections and 200 ms a call, the first wave has been answered
#: and the second is in the provider's hands.
KILL_AFTER_CALLS = 40


@pytest.fixture
def fake_receiver(tmp_path: Path) -> Iterator[str]:
    """The fake webhook receiver in a process of its own; yields its base URL."""
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
        stderr=subprocess.DEVNULL,  # the killed connector's broken connections
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert proc.poll() is None, "the fake receiver exited"
            assert time.monotonic() < deadline, "the fake receiver did not start"
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


def start_connector(
    settings: Settings, base_url: str, log: Path, *, lookup: bool
) -> subprocess.Popen[bytes]:
    env = env_for_children(
        settings,
        RECAUDO_WEBHOOK_URL=f"{base_url}/hooks/recaudo",
        RECAUDO_WEBHOOK_SECRET=fake.WEBHOOK_SECRET,
        RECAUDO_WEBHOOK_LOOKUP=str(lookup).lower(),
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
                "webhook",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    proc: subprocess.Popen[bytes],
    log: Path,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what}: connector exit {proc.poll()}\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


class Responses:
    """Every channel response on the topic, read from the start: dispatch id ->
    the statuses reported for it."""

    def __init__(self, settings: Settings, serde: Serde) -> None:
        self.serde = serde
        self.topic = serde.topics.channel_responses
        self.statuses: dict[str, list[str]] = defaultdict(list)
        #: dispatch id -> why its outcome is unknown (error code and message)
        self.unknown_codes: dict[str, str] = {}
        self._consumer = Consumer(
            {
                **settings.kafka_config(),
                "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
            }
        )
        partitions = self._consumer.list_topics(self.topic, timeout=10).topics[self.topic]
        self._consumer.assign([TopicPartition(self.topic, p, 0) for p in partitions.partitions])

    def read(self) -> bool:
        """Take what has arrived; always True (a wait condition's step)."""
        for msg in self._consumer.consume(500, timeout=0.2):
            if msg.error() is None:
                response = self.serde.deserialize(self.topic, msg.value())
                assert isinstance(response, ChannelResponse) and response.dispatch_id
                self.statuses[response.dispatch_id].append(response.status)
                if response.status == "OUTCOME_UNKNOWN":
                    self.unknown_codes[response.dispatch_id] = (
                        f"{response.error_code}: {response.error_message}"
                    )
        return True

    def close(self) -> None:
        self._consumer.close()


@pytest.mark.parametrize("lookup", [False, True], ids=["cannot-ask", "asks-the-provider"])
def test_killed_mid_batch_and_restarted_calls_the_provider_at_most_once_per_dispatch(
    topics_ready: Settings, fake_receiver: str, tmp_path: Path, lookup: bool
) -> None:
    serde = Serde(topics_ready)
    commands = [command(i) for i in range(DISPATCHES)]
    expected = {c.dispatch_id for c in commands}
    with RecaudoProducer(topics_ready, serde) as producer:
        for cmd in commands:
            producer.publish(cmd)
    log = tmp_path / "connector.log"

    first = start_connector(topics_ready, fake_receiver, log, lookup=lookup)
    wait_for(
        lambda: sum(counts(fake_receiver)["requests"].values()) >= KILL_AFTER_CALLS,
        60,
        "no sends",
        first,
        log,
    )
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = set(counts(fake_receiver)["requests"])
    assert len(at_kill) < DISPATCHES, "killed too late: the batch had finished"

    responses = Responses(topics_ready, serde)
    second = start_connector(topics_ready, fake_receiver, log, lookup=lookup)
    try:
        wait_for(
            lambda: responses.read() and expected <= responses.statuses.keys(),
            90,
            "a dispatch got no response",
            second,
            log,
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
        responses.read()
        responses.close()

    final = counts(fake_receiver)
    # The requirement: at most one provider call per dispatch id, across the kill.
    calls = final["requests"]
    twice = {key: n for key, n in calls.items() if n > 1}
    assert not twice, f"{len(twice)} dispatches sent more than once: {sorted(twice)[:5]}"
    # ... and every dispatch one outcome (not lost, not reported two ways).
    assert set(responses.statuses) == expected
    outcome = {}
    for dispatch_id, statuses in responses.statuses.items():
        assert len(set(statuses)) == 1, f"{dispatch_id} reported as {statuses}"
        outcome[dispatch_id] = statuses[0]
    accepted = {d for d, s in outcome.items() if s == "ACCEPTED"}
    unknown = {d for d, s in outcome.items() if s == "OUTCOME_UNKNOWN"}
    assert accepted | unknown == expected
    # Every dispatch reported sent was received, once.
    assert {d: calls.get(d) for d in accepted} == dict.fromkeys(accepted, 1)
    # Outcomes are recorded per message: sends answered before the kill are
    # answered from the ledger, not sent again.
    assert accepted & at_kill
    if lookup:
        # What the killed run had begun was asked about instead of resent,
        # including sends the receiver had in hand at the kill.
        assert set(final["lookups"]) & at_kill
        assert not unknown
        assert final["created"] == dict.fromkeys(expected, 1)
    else:
        # The kill caught sends in the receiver's hands: reported unknown, as
        # many as calls could be in progress at once (its connections) at most.
        assert unknown & set(calls)
        why = Counter(responses.unknown_codes[d] for d in unknown)
        assert len(unknown) <= topics_ready.provider_max_connections, why
        assert not final["lookups"]
