"""``recaudo webhooks run``: :class:`WebhookApp` behind uvicorn (Starlette),
with the correlation projection beside it and the probes on the same port
(``/healthz``, ``/readyz``, ``/metrics``), as the deployment expects.

The service faces the internet, so what a client sends is bounded before the
app sees it: a Content-Length that is not a non-negative integer is answered
400 (by h11, before the app runs); a body over :data:`MAX_BODY_BYTES` is
answered 413 as soon as its Content-Length says so, or, chunked, as soon as
the bytes read pass it; headers not complete within
``webhooks_header_timeout_s``, or a body not complete within
``webhooks_body_timeout_s``, are answered 408. Each of these answers closes
the connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from connectors.inbound_email.receiver import DeadLetterProducer
from connectors.webhooks.app import MAX_BODY_BYTES, Reply, Request, WebhookApp
from connectors.webhooks.projection import CorrelationProjection
from connectors.webhooks.sink import ResponseSink
from connectors.webhooks.store import CorrelationStore
from recaudo.health import PROMETHEUS_TEXT, metrics_page
from recaudo.serde import Serde
from recaudo.settings import Settings

log = logging.getLogger(__name__)

#: Written straight to the socket: no request was read, so h11 has nothing to answer.
_HEADER_TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 25\r\nConnection: close\r\n\r\nrequest headers too slow\n"
)


class BodyTooLarge(Exception):
    """The request's body is over the limit."""


def header_timeout_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline on each request's headers:
    uvicorn times out only an idle keep-alive connection, and any byte
    received, however slowly, resets that."""

    class HeaderTimeoutProtocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timeout()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_header_timeout()

        def _arm_header_timeout(self) -> None:
            # A new request replaces ``cycle``: the same one at the deadline
            # means no new request's headers arrived in time.
            cycle = self.cycle
            self.loop.call_later(timeout_s, self._header_deadline, cycle)

        def _header_deadline(self, cycle: object) -> None:
            if self.cycle is cycle and not self.transport.is_closing():
                log.info("webhook request headers not complete in %.0f s: closed", timeout_s)
                self.transport.write(_HEADER_TIMEOUT_REPLY)
                self.transport.close()

    return HeaderTimeoutProtocol


def _parse_content_length(value: str | None) -> int | None:
    """The declared length, or None if absent; ValueError if not a
    non-negative integer."""
    if value is None:
        return None
    if not value.strip().isdigit():
        raise ValueError(value)
    return int(value)


async def read_body(request: HttpRequest, limit: int, timeout_s: float) -> bytes:
    """The body, read as it arrives and refused as soon as it passes ``limit``
    (BodyTooLarge) or is not complete in ``timeout_s`` (TimeoutError)."""
    declared = _parse_content_length(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise BodyTooLarge
    body = bytearray()
    with anyio.fail_after(timeout_s):
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise BodyTooLarge
    return bytes(body)


def _response(reply: Reply, *, close: bool = False) -> Response:
    headers = {"Connection": "close"} if close else None
    return Response(reply.body, reply.status, headers, media_type=reply.content_type)


def _refusal(status: int, text: str) -> Response:
    """An answer to a request not read to its end: the connection is closed,
    since what is left of the body cannot be told from a next request."""
    return _response(Reply(status, (text + "\n").encode()), close=True)


class WebhookService:
    """:meth:`run` serves until :meth:`stop`."""

    def __init__(self, settings: Settings, port: int, host: str | None = None) -> None:
        serde = Serde(settings)
        self.settings = settings
        self.store = CorrelationStore(settings.database_dsn())
        self.sink = ResponseSink(settings, serde)
        self.projection = CorrelationProjection(settings, serde, self.store)
        self.dead_letters = DeadLetterProducer(settings, serde)
        self.app = WebhookApp(
            settings,
            self.store,
            self.sink.publish,
            deliveries=self.store,
            dead_letter=self.dead_letters,
        )
        self._config = uvicorn.Config(
            self.asgi(),
            host=host or settings.webhooks_host,
            port=port,
            http=header_timeout_protocol(settings.webhooks_header_timeout_s),
            lifespan="off",
            # The default access line has the query string (Meta's verify
            # token) and the client address; the app logs what matters.
            access_log=False,
            log_config=None,
            server_header=False,
            # The app reads X-Forwarded-* itself, to rebuild the signed URL.
            proxy_headers=False,
            timeout_graceful_shutdown=10,
        )
        # Bound now, so the port is known (and taken) before run().
        self._socket = self._config.bind_socket()
        self._server = uvicorn.Server(self._config)
        self._projector = threading.Thread(
            target=self.projection.run, name="webhook-projection", daemon=True
        )

    @property
    def port(self) -> int:
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def host(self) -> str:
        host: str = self._socket.getsockname()[0]
        return host

    def ready(self) -> bool:
        return self.projection.ready and self.store.ping()

    def metrics(self) -> dict[str, float]:
        return {
            **self.app.metrics(),
            "recaudo_webhooks_projected_total": float(self.projection.projected),
            "recaudo_webhooks_responses_produced_total": float(self.sink.produced),
        }

    def run(self) -> None:
        self._projector.start()
        log.info("webhooks listening on %s:%d", self.host, self.port)
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()
            self.projection.stop()
            self._projector.join(10)
            self.sink.close()
            self.dead_letters.close()
            self.store.close()

    def stop(self) -> None:
        """Safe from any thread and from a signal handler."""
        self._server.should_exit = True

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/healthz", self._healthz, methods=["GET"]),
                Route("/readyz", self._readyz, methods=["GET"]),
                Route("/metrics", self._metrics, methods=["GET"]),
                Route("/{path:path}", self._callback, methods=["GET", "POST"]),
            ]
        )

    async def _healthz(self, _request: HttpRequest) -> Response:
        return _response(Reply(200, b"ok\n"))

    async def _readyz(self, _request: HttpRequest) -> Response:
        ok = await run_in_threadpool(self.ready)
        return _response(Reply(200 if ok else 503, b"ready\n" if ok else b"not ready\n"))

    async def _metrics(self, _request: HttpRequest) -> Response:
        page = metrics_page(await run_in_threadpool(self.metrics))
        return _response(Reply(200, page, PROMETHEUS_TEXT))

    async def _callback(self, request: HttpRequest) -> Response:
        try:
            body = await read_body(request, MAX_BODY_BYTES, self.settings.webhooks_body_timeout_s)
        except ValueError:
            return _refusal(400, "Content-Length must be a non-negative integer")
        except BodyTooLarge:
            return _refusal(413, f"body over {MAX_BODY_BYTES} bytes")
        except TimeoutError:
            return _refusal(408, "request body too slow")
        except ClientDisconnect:
            return _refusal(400, "client went away before the end of the body")
        headers = {name.lower(): value for name, value in request.headers.items()}
        # The path as sent, not decoded: Twilio signs the URL it called.
        path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        call = Request(request.method, path, request.url.query, headers, body)
        try:
            reply: Reply = await run_in_threadpool(self.app.handle, call)
        except Exception:
            log.exception("webhook %s %s failed", request.method, request.url.path)
            reply = Reply(503, b"try again\n")
        return _response(reply)
