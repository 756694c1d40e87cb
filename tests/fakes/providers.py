"""A local HTTP server that answers like Twilio's REST API, Meta's WhatsApp
Cloud API and a recaudo webhook receiver: the same paths, auth, request
bodies (form vs JSON), success bodies and error formats.

It counts, per idempotency key, every request and every message it actually
created: the webhook's ``Idempotency-Key`` makes a repeat return the first
answer without creating a second message (recaudo's contract asks receivers
to); Twilio's REST API and Meta's take no such key and create a message for
every request, as the real services do (the fake keys their counts on
``I-Twilio-Idempotency-Token`` and on the dispatch id in
``biz_opaque_callback_data``).

The webhook receiver also answers recaudo's lookup (``GET`` with the
``Idempotency-Key``, signed over the key): 200 with the message id if it
created that message, 404 if not. A lookup of a key whose POST is still being
processed waits for it, as the lookup contract requires; lookups are counted
apart (``lookups``), so ``requests`` counts POSTs only.

Failures are scripted per recipient address (``script``), or over HTTP
(``POST /_fake/script``) when the fake runs in another process. Besides
answers, a script can hold network faults (:class:`Fault`): take the request
and never answer (the client times out), or reset the connection once the
request is read, with the message created first or not. ``stop_listening``
and ``listen`` make connections refused and then accepted again::

    python -m tests.fakes.providers --port 0 --port-file /tmp/port --latency-ms 50

``GET /_fake/counts`` returns ``{"requests": {key: n}, "created": {key: n},
"lookups": {key: n}}``.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import SO_LINGER, SOL_SOCKET
from struct import pack
from typing import Any, Literal
from urllib.parse import parse_qs

from connectors.webhooks.signatures import verify_webhook

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-token"
META_TOKEN = "meta-test-token"
META_PHONE_ID = "1098765432"
WEBHOOK_SECRET = "webhook-test-secret"

#: Twilio's magic test numbers: invalid and unroutable destinations.
TWILIO_INVALID = "+15005550001"
TWILIO_UNSUBSCRIBED = "+15005550004"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """What the fake does instead of answering a request it has read.

    ``hang``: keeps the connection open without an answer until the fake
    stops (the client's read timeout fires); ``reset``: closes it with a TCP
    reset. ``processed``: whether the provider handled the request first (the
    message is created, as if it had answered 2xx) or dropped it unhandled.
    """

    kind: Literal["hang", "reset"]
    processed: bool = True


def twilio_error(status: int, code: int, message: str, retry_after: int | None = None) -> Answer:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Answer(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        headers,
    )


def meta_error(status: int, code: int, message: str, subcode: int | None = None) -> Answer:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": secrets.token_urlsafe(8),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return Answer(status, {"error": error})


class FakeState:
    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.lock = threading.Lock()
        #: Notified whenever a webhook POST finishes.
        self.finished = threading.Condition(self.lock)
        self.requests: Counter[str] = Counter()
        self.created: Counter[str] = Counter()
        self.lookups: Counter[str] = Counter()
        #: Webhook POSTs being processed, per key.
        self.in_flight: Counter[str] = Counter()
        self.replies: dict[str, Answer] = {}
        self.scripts: dict[str, list[Answer | Fault]] = {}
        #: Set when the fake stops: hung requests give up then.
        self.stopping = threading.Event()
        #: Every accepted request, as the fake parsed it (for assertions).
        self.received: list[dict[str, Any]] = []

    def script(self, address: str, *answers: Answer | Fault) -> None:
        """The next requests to ``address`` get these answers, in order; the
        last one sticks."""
        with self.lock:
            self.scripts[address] = list(answers)

    def scripted(self, address: str) -> Answer | Fault | None:
        with self.lock:
            answers = self.scripts.get(address)
            if not answers:
                return None
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def counts(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "created": dict(self.created),
                "lookups": dict(self.lookups),
            }


class _Server(ThreadingHTTPServer):
    # A listen backlog as deep as a real API's: with the stdlib's 5, a burst of
    # connections overflows it and the kernel resets some after the client has
    # written its request (an unknown outcome, not a fault of the code tested).
    request_queue_size = 128
    daemon_threads = True


class FakeProviders:
    """The server; ``with FakeProviders() as fake: fake.url ...``."""

    def __init__(self, port: int = 0, latency_s: float = 0.0, host: str = "127.0.0.1") -> None:
        self.state = FakeState(latency_s)
        self._server: ThreadingHTTPServer | None = self._bind(host, port)
        self._host, self._port = host, self.port
        self._thread: threading.Thread | None = None

    def _bind(self, host: str, port: int) -> ThreadingHTTPServer:
        return _Server((host, port), _handler(self.state))

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    def _serve(self) -> None:
        assert self._server is not None
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop_listening(self) -> None:
        """Close the listening socket: connections are refused until :meth:`listen`.
        (Start the fake on a port outside the ephemeral range, e.g.
        ``recaudo.embedded.ports.free_port()``, so no outgoing connection
        takes it meanwhile.)"""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def listen(self) -> None:
        """Accept connections again on the same port (no-op if listening)."""
        if self._server is None:
            self._server = self._bind(self._host, self._port)
            self._serve()

    def __enter__(self) -> FakeProviders:
        self._serve()
        return self

    def __exit__(self, *_: object) -> None:
        self.state.stopping.set()
        self.stop_listening()

    def serve_forever(self) -> None:
        assert self._server is not None
        self._server.serve_forever()


def _handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, answer: Answer) -> None:
            data = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _fail(self, fault: Fault) -> None:
            """Leave the request unanswered, as ``fault`` says."""
            self.close_connection = True
            if fault.kind == "hang":
                state.stopping.wait()
                return
            # Linger 0: close() sends a TCP reset, not an orderly FIN.
            self.connection.setsockopt(SOL_SOCKET, SO_LINGER, pack("ii", 1, 0))
            self.connection.close()

        def _reply(self, answer: Answer, fault: Fault | None) -> None:
            if fault is None:
                self._answer(answer)
            else:
                self._fail(fault)

        def _fault(self, address: str) -> tuple[Answer | None, Fault | None]:
            """The scripted answer or fault for ``address`` (either may be None)."""
            scripted = state.scripted(address)
            if isinstance(scripted, Fault):
                return None, scripted
            return scripted, None

        def do_GET(self) -> None:
            if self.path == "/_fake/counts":
                self._answer(Answer(200, state.counts()))
            elif self.path.partition("?")[0].strip("/").split("/")[0] == "hooks":
                self._webhook_lookup()
            else:
                self._answer(Answer(404, {"message": "not found"}))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.partition("?")[0]
            parts = path.strip("/").split("/")
            if path == "/_fake/script":
                spec = json.loads(body)
                state.script(spec["address"], *(Answer(**a) for a in spec["answers"]))
                self._answer(Answer(200, {}))
            elif parts[:2] == ["2010-04-01", "Accounts"] and len(parts) == 4:
                self._twilio(parts[2], parts[3], body)
            elif len(parts) == 3 and parts[2] == "messages":
                self._meta(parts[1], body)
            elif parts[0] == "hooks":
                self._webhook(body)
            else:
                self._answer(Answer(404, {"message": "not found"}))

        # --- Twilio -------------------------------------------------------------------

        def _twilio(self, sid: str, resource: str, body: bytes) -> None:
            expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != expected or sid != ACCOUNT_SID:
                self._answer(twilio_error(401, 20003, "Authenticate"))
                return
            if not self.headers.get("Content-Type", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                self._answer(twilio_error(400, 20001, "Content-Type must be form-encoded"))
                return
            form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            to = form.get("To", "")
            if not to:
                self._answer(twilio_error(400, 21604, "A 'To' phone number is required."))
                return
            if "From" not in form and "MessagingServiceSid" not in form:
                self._answer(twilio_error(400, 21603, "A 'From' phone number is required."))
                return
            if resource == "Messages.json" and not form.get("Body"):
                self._answer(twilio_error(400, 21602, "Message body is required."))
                return
            if resource == "Calls.json" and not (form.get("Twiml") or form.get("Url")):
                self._answer(twilio_error(400, 21205, "Url parameter is required."))
                return
            key = self.headers.get("I-Twilio-Idempotency-Token") or secrets.token_hex(8)
            with state.lock:
                state.requests[key] += 1
            scripted, fault = self._fault(to)
            if fault is not None and not fault.processed:
                self._fail(fault)
                return
            time.sleep(state.latency_s)
            answer = scripted or self._twilio_default(to)
            if answer.status == 201:
                prefix = "CA" if resource == "Calls.json" else "SM"
                answer = Answer(
                    201,
                    {
                        "sid": prefix + secrets.token_hex(16),
                        "account_sid": sid,
                        "to": to,
                        "from": form.get("From"),
                        "body": form.get("Body"),
                        "status": "queued",
                        "error_code": None,
                        "error_message": None,
                        "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                    },
                )
            with state.lock:
                if answer.status == 201:
                    state.created[key] += 1
                    state.received.append({"provider": "twilio", "resource": resource, **form})
            self._reply(answer, fault)

        @staticmethod
        def _twilio_default(to: str) -> Answer:
            if to == TWILIO_INVALID:
                return twilio_error(
                    400, 21211, f"The 'To' number {to} is not a valid phone number."
                )
            if to == TWILIO_UNSUBSCRIBED:
                return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
            return Answer(201, {})

        # --- Meta ---------------------------------------------------------------------

        def _meta(self, phone_id: str, body: bytes) -> None:
            if self.headers.get("Authorization") != f"Bearer {META_TOKEN}":
                self._answer(meta_error(401, 190, "Invalid OAuth access token."))
                return
            if phone_id != META_PHONE_ID:
                self._answer(meta_error(400, 100, "Unsupported post request.", subcode=33))
                return
            try:
                payload = json.loads(body)
            except ValueError:
                self._answer(meta_error(400, 100, "Invalid parameter"))
                return
            if payload.get("messaging_product") != "whatsapp" or not payload.get("to"):
                self._answer(meta_error(400, 100, "Invalid parameter"))
                return
            if payload.get("type") not in ("text", "template"):
                self._answer(meta_error(400, 131051, "Unsupported message type"))
                return
            opaque = payload.get("biz_opaque_callback_data") or ""
            try:
                key = json.loads(opaque)["dispatch_id"]
            except (ValueError, KeyError, TypeError):
                key = secrets.token_hex(8)
            with state.lock:
                state.requests[key] += 1
            scripted, fault = self._fault("+" + payload["to"])
            if fault is not None and not fault.processed:
                self._fail(fault)
                return
            time.sleep(state.latency_s)
            answer = scripted or Answer(200, {})
            if answer.status == 200:
                wa_id = payload["to"]
                answer = Answer(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": wa_id, "wa_id": wa_id}],
                        "messages": [{"id": "wamid." + secrets.token_urlsafe(24)}],
                    },
                )
                with state.lock:
                    state.created[key] += 1
                    state.received.append({"provider": "meta", **payload})
            self._reply(answer, fault)

        # --- webhook ------------------------------------------------------------------

        def _webhook(self, body: bytes) -> None:
            if not verify_webhook(
                WEBHOOK_SECRET.encode(),
                self.headers.get("X-Recaudo-Timestamp", ""),
                body,
                self.headers.get("X-Recaudo-Signature"),
            ):
                self._answer(Answer(401, {"code": "BAD_SIGNATURE", "message": "bad signature"}))
                return
            key = self.headers.get("Idempotency-Key") or secrets.token_hex(8)
            payload = json.loads(body)
            with state.lock:
                state.requests[key] += 1
                replay = state.replies.get(key)
                if replay is None:
                    state.in_flight[key] += 1
            if replay is not None:
                self._answer(replay)
                return
            fault: Fault | None = None
            try:
                scripted, fault = self._fault(payload.get("address", ""))
                if fault is not None and not fault.processed:
                    self._fail(fault)
                    return
                time.sleep(state.latency_s)
                answer = scripted or Answer(202, {"id": "wh-" + secrets.token_hex(8)})
                with state.lock:
                    if 200 <= answer.status < 300:
                        state.created[key] += 1
                        state.received.append({"provider": "webhook", **payload})
                        state.replies[key] = answer
            finally:
                with state.lock:
                    state.in_flight[key] -= 1
                    state.finished.notify_all()
            # The sender may be gone (killed mid-request); what it sent still counts.
            self._reply(answer, fault)

        def _webhook_lookup(self) -> None:
            key = self.headers.get("Idempotency-Key", "")
            if not key or not verify_webhook(
                WEBHOOK_SECRET.encode(),
                self.headers.get("X-Recaudo-Timestamp", ""),
                key.encode(),
                self.headers.get("X-Recaudo-Signature"),
            ):
                self._answer(Answer(401, {"code": "BAD_SIGNATURE", "message": "bad signature"}))
                return
            with state.finished:
                state.lookups[key] += 1
                state.finished.wait_for(lambda: state.in_flight[key] <= 0, timeout=30)
                reply = state.replies.get(key)
            if reply is None:
                self._answer(Answer(404, {"code": "NOT_FOUND", "message": "no such message"}))
            else:
                self._answer(Answer(200, reply.body))

    return Handler


@contextmanager
def running(latency_s: float = 0.0) -> Iterator[FakeProviders]:
    with FakeProviders(latency_s=latency_s) as fake:
        yield fake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, default=None)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeProviders(args.port, args.latency_ms / 1000)
    if args.port_file is not None:
        # Written whole at once: a reader never sees half a number.
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(fake.port))
        tmp.replace(args.port_file)
    fake.serve_forever()


if __name__ == "__main__":
    main()
