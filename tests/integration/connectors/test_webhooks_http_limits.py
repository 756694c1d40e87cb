"""What the internet-facing webhook service does with requests that are not
what a provider sends, over a real socket to the real server: a Content-Length
that is negative or not a number is answered 400; a body past the limit is
answered 413 while the client is still sending it; headers or a body that
stall are answered 408; each closes the connection. A body with no
Content-Length (chunked) is read like any other."""

from __future__ import annotations

import select
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from connectors.webhooks.server import WebhookService
from recaudo.embedded.broker import EmbeddedBroker
from recaudo.embedded.postgres import EmbeddedPostgres
from recaudo.kafka.topics_admin import ensure_topics
from recaudo.settings import Settings
from tests.integration.connectors.webhooks import (
    responses_until,
    running,
    signed_twilio,
    twilio_status_url,
    webhook_settings,
)
from tests.integration.fixtures import create_database

pytestmark = pytest.mark.integration

#: Far more than any provider sends, and than the socket buffers on both ends hold.
HUGE = 256 << 20
CHUNK = 64 << 10


@pytest.fixture(scope="module")
def settings(
    broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """One service for the module: what one request leaves behind no other
    test looks at (each debtor is its own)."""
    base = Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        embedded_broker=True,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        topic_partitions=3,
        state_dir=tmp_path_factory.mktemp("webhooks"),
        database_url=SecretStr(create_database(postgres)),
    )
    ensure_topics(base)
    # Short deadlines, so a stalled request is answered soon; a bound, not a wait.
    return webhook_settings(base, webhooks_header_timeout_s=1.0, webhooks_body_timeout_s=1.0)


@pytest.fixture(scope="module")
def service(settings: Settings) -> Iterator[WebhookService]:
    with running(settings) as service:
        yield service


def connect(service: WebhookService) -> socket.socket:
    # The timeout only keeps a server that never answers from holding the test.
    return socket.create_connection(("127.0.0.1", service.port), timeout=30)


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server writes before it closes the connection."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def status_of(reply: bytes) -> int | None:
    line = reply.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[0].startswith(b"HTTP/") else None


def head(length: str | None, *, chunked: bool = False) -> bytes:
    lines = [b"POST /twilio/status HTTP/1.1", b"Host: 127.0.0.1"]
    lines.append(b"Content-Type: application/x-www-form-urlencoded")
    if length is not None:
        lines.append(b"Content-Length: " + length.encode())
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
    return b"\r\n".join(lines) + b"\r\n\r\n"


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", ""])
def test_a_content_length_that_is_not_a_non_negative_integer_is_400(
    service: WebhookService, length: str
) -> None:
    with connect(service) as sock:
        # A body follows, and the client does not close: the server must not
        # read until it does.
        sock.sendall(head(length) + b"MessageSid=SM1&MessageStatus=delivered")
        reply = read_to_close(sock)
    assert status_of(reply) == 400, reply


def stream_until_answered(sock: socket.socket, *, chunked: bool) -> int:
    """Send a HUGE body chunk by chunk, stopping as soon as the server answers
    or closes; the bytes of body sent."""
    sent = 0
    data = b"a" * CHUNK
    frame = f"{CHUNK:x}\r\n".encode() + data + b"\r\n" if chunked else data
    while sent < HUGE:
        answered, _, _ = select.select([sock], [], [], 0)
        if answered:
            break
        try:
            sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += CHUNK
    return sent


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_an_oversized_body_is_413_before_the_client_has_sent_it(
    service: WebhookService, chunked: bool
) -> None:
    with connect(service) as sock:
        sock.sendall(head(None if chunked else str(HUGE), chunked=chunked))
        sent = stream_until_answered(sock, chunked=chunked)
        reply = read_to_close(sock)
    assert status_of(reply) == 413, reply[:200]
    # Answered with most of the body unsent: the server stopped reading at the
    # limit (what was sent past it sat in the sockets' buffers).
    assert sent < HUGE // 4, f"{sent} of {HUGE} bytes sent before the answer"


def test_a_body_that_stalls_is_408(service: WebhookService) -> None:
    with connect(service) as sock:
        sock.sendall(head("100") + b"MessageSid=SM1")
        reply = read_to_close(sock)
    assert status_of(reply) == 408, reply


def test_headers_that_stall_are_408(service: WebhookService) -> None:
    with connect(service) as sock:
        sock.sendall(b"POST /twilio/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        reply = read_to_close(sock)
    assert status_of(reply) == 408, reply


def test_a_signed_body_without_content_length_is_read(
    service: WebhookService, settings: Settings
) -> None:
    url = twilio_status_url(service, "disp-chunked", "D-chunked")
    body, headers = signed_twilio(url, {"MessageSid": "SMchunk", "MessageStatus": "delivered"})

    def chunks() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    # A generator body: httpx sends it chunked, with no Content-Length.
    reply = httpx.post(url, content=chunks(), headers=headers, timeout=30)
    assert reply.status_code == 200, reply.text
    got = responses_until(settings, lambda r: r.dispatch_id == "disp-chunked")
    assert [(r.status, r.provider_message_id) for r in got if r.debtor_id == "D-chunked"] == [
        ("DELIVERED", "SMchunk")
    ]
