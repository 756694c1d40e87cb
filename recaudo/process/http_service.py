"""A Starlette app on uvicorn, hardened for the internet, with recaudo's probes.

What a client sends is bounded before the app sees it: a Content-Length that
is not a non-negative integer is answered 400 (by h11, before the app runs);
headers not complete within ``header_timeout_s`` are answered 408 and the
connection closed; :func:`read_body` bounds a body's size and time while it is
read. No access line is ever written (it would carry tokens, task ids or
personal data), no server header is sent, and X-Forwarded-* is never trusted.
Every service built on :class:`HttpService` serves ``/healthz``, ``/readyz``
and ``/metrics`` through :func:`probe_routes`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from recaudo.observability.health import PROMETHEUS_TEXT, metrics_page
from recaudo.process.lifecycle import Service

log = logging.getLogger(__name__)

PLAIN_TEXT = "text/plain; charset=utf-8"

#: Written straight to the socket: no request was read, so h11 has nothing to answer.
_HEADER_TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 25\r\nConnection: close\r\n\r\nrequest headers too slow\n"
)


class BodyTooLarge(Exception):
    """The request's body is over the limit."""


def header_timeout_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline on each request's headers
    (uvicorn times out only an idle keep-alive connection, and any byte
    received, however slowly, resets that) and no access line, ever: uvicorn
    writes one whenever its access logger has a handler, ``access_log=False``
    or not."""

    class HardenedProtocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.access_log = False

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
                log.info("request headers not complete in %.0f s: closed", timeout_s)
                self.transport.write(_HEADER_TIMEOUT_REPLY)
                self.transport.close()

    return HardenedProtocol


def _parse_content_length(value: str | None) -> int | None:
    """The declared length, or None if absent; ValueError if not a
    non-negative integer."""
    if value is None:
        return None
    if not value.strip().isdigit():
        raise ValueError(value)
    return int(value)


def plain(status: int, text: str, *, close: bool = False) -> Response:
    """A one-line text answer; ``close`` for a request not read to its end
    (what is left of its body cannot be told from a next request)."""
    headers = {"Connection": "close"} if close else None
    return Response(text + "\n", status, headers, media_type=PLAIN_TEXT)


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The body, read as it arrives and refused as soon as it passes ``limit``
    (BodyTooLarge) or is not complete in ``timeout_s`` (TimeoutError); a
    Content-Length that is not a non-negative integer raises ValueError."""
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


async def body_or_refusal(request: Request, limit: int, timeout_s: float) -> bytes | Response:
    """The body as :func:`read_body` reads it, or the answer to a body that
    cannot be read to its end (400, 408, 413; each closes the connection)."""
    try:
        return await read_body(request, limit, timeout_s)
    except ValueError:
        return plain(400, "Content-Length must be a non-negative integer", close=True)
    except BodyTooLarge:
        return plain(413, f"body over {limit} bytes", close=True)
    except TimeoutError:
        return plain(408, "request body too slow", close=True)
    except ClientDisconnect:
        return plain(400, "client went away before the end of the body", close=True)


def probe_routes(
    ready: Callable[[], bool], metrics: Callable[[], Mapping[str, float]]
) -> list[BaseRoute]:
    """``/healthz`` (the process answers), ``/readyz`` (``ready()``, run off
    the event loop) and ``/metrics`` (``metrics()`` in Prometheus text)."""

    async def healthz(_request: Request) -> Response:
        return plain(200, "ok")

    async def readyz(_request: Request) -> Response:
        ok = await run_in_threadpool(ready)
        return plain(200 if ok else 503, "ready" if ok else "not ready")

    async def metrics_endpoint(_request: Request) -> Response:
        page = metrics_page(dict(await run_in_threadpool(metrics)))
        return Response(page, 200, media_type=PROMETHEUS_TEXT)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]


class HttpService(Service):
    """``app`` on uvicorn at ``host:port`` (0: any free port), bound at once so
    the port is known and taken before :meth:`run`; :meth:`run` serves until
    :meth:`stop` and then calls each of ``on_close`` in turn; :meth:`start`
    (or ``with``) serves from a thread."""

    def __init__(
        self,
        name: str,
        app: Starlette,
        *,
        host: str,
        port: int,
        header_timeout_s: float,
        on_close: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.name = name
        self._on_close = on_close
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http=header_timeout_protocol(header_timeout_s),
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            # Who the client is comes from the app's own rules, never X-Forwarded-*.
            proxy_headers=False,
            timeout_graceful_shutdown=10,
        )
        self._socket = self._config.bind_socket()
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def host(self) -> str:
        host: str = self._socket.getsockname()[0]
        return host

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def run(self) -> None:
        log.info("%s listening on %s:%d", self.name, self.host, self.port)
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()
            for close in self._on_close:
                close()

    def start(self) -> Self:
        """Serve from a thread of its own; returns once uvicorn has started."""
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()
        waiting = threading.Event()
        while not self._server.started and self._thread.is_alive():
            waiting.wait(0.02)  # uvicorn has no event to wait on
        if not self._server.started:
            raise RuntimeError(f"the {self.name} did not start: see its log")
        return self

    def stop(self) -> None:
        """Safe from any thread and from a signal handler; after :meth:`start`,
        returns once the serving thread has finished."""
        self._server.should_exit = True
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(15)
