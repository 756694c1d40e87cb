"""The two new processes as `recaudo up` runs them, from their command lines:
`recaudo inbound-email run` takes a reply over SMTP onto channel-responses,
`recaudo streams run --name agent-tasks` mirrors a task into Postgres."""

from __future__ import annotations

import re
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

import pytest

from connectors.inbound_email.threads import message_id, reply_token
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings, env_for_children
from tests.integration.connectors.webhooks import responses_until
from tests.integration.streams.test_agent_task_sink import row_when, task

pytestmark = pytest.mark.integration

KEY = "cli-thread-key"


@contextmanager
def recaudo(settings: Settings, *args: str) -> Iterator[subprocess.Popen[str]]:
    env = env_for_children(settings, RECAUDO_EMAIL_THREAD_KEY=KEY)
    process = subprocess.Popen(
        [sys.executable, "-m", "recaudo", *args],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        assert process.wait(30) == 0, f"recaudo {' '.join(args)} did not stop cleanly"


def smtp_port(process: subprocess.Popen[str]) -> int:
    """The port the receiver says it listens on (its first line on stderr)."""
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"inbound email \(SMTP\) on [\d.]+:(\d+)", line)
        if found:
            return int(found.group(1))
    raise AssertionError(f"no listening line; exit code {process.poll()}")


def send_when_listening(port: int, message: EmailMessage, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.send_message(message, "ana@example.com", ["cobranza@banco.example"])
            return
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "the receiver never listened"
            time.sleep(0.2)


def test_inbound_email_run_puts_a_reply_on_channel_responses(pg_settings: Settings) -> None:
    dispatch_id, debtor_id = str(uuid.uuid4()), f"D-{uuid.uuid4().hex[:6]}"
    reply = EmailMessage()
    reply["From"] = "ana@example.com"
    reply["To"] = "cobranza@banco.example"
    reply["Message-ID"] = "<cli-reply@mail.example.com>"
    reply["In-Reply-To"] = message_id(
        reply_token(dispatch_id, debtor_id, KEY.encode()), "cobranza@banco.example"
    )
    reply.set_content("Pago mañana.\n\nOn Mon, Bank wrote:\n> Su cuota")
    with recaudo(pg_settings, "inbound-email", "run", "--port", "0") as process:
        send_when_listening(smtp_port(process), reply)
        [response] = responses_until(pg_settings, lambda r: r.debtor_id == debtor_id)
    assert (response.status, response.dispatch_id, response.text) == (
        "REPLIED",
        dispatch_id,
        "Pago mañana.",
    )


def test_streams_run_agent_tasks_mirrors_a_task(pg_settings: Settings) -> None:
    serde = Serde(pg_settings)
    with recaudo(pg_settings, "streams", "run", "--name", "agent-tasks"):
        with RecaudoProducer(pg_settings, serde) as producer:
            producer.publish(task("T-cli", "D-cli"), serde.topics.agent_tasks)
            producer.flush(10)
        row = row_when(pg_settings.database_dsn(), "T-cli", lambda r: True)
    assert row is not None and row["status"] == "OPEN"
