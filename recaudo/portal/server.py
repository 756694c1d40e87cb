"""``recaudo portal run``: :class:`~recaudo.portal.app.Portal` behind uvicorn
(Starlette), with the probes on the same port (``/healthz``, ``/readyz``,
``/metrics``).

It faces the internet with the webhook service's hardening, reused from
:mod:`connectors.webhooks.server`: a deadline on each request's headers
(``webhooks_header_timeout_s``) and on its body (``webhooks_body_timeout_s``),
a body bounded while it is read (:data:`~recaudo.portal.app.MAX_FORM_BYTES`),
no access log (its lines would hold the token), no server header.
"""

from __future__ import annotations

import logging
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from connectors.webhooks.server import BodyTooLarge, header_timeout_protocol, read_body
from recaudo.health import PROMETHEUS_TEXT, metrics_page
from recaudo.orchestration.strategy import load_strategy
from recaudo.portal.app import MAX_FORM_BYTES, SECURITY_HEADERS, Page, Portal
from recaudo.portal.sink import EventSink
from recaudo.portal.store import PortalStore
from recaudo.portal.token import Keys, portal_key
from recaudo.serde import Serde
from recaudo.settings import Settings

log = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"


def _without_access_log(protocol: type[H11Protocol]) -> type[H11Protocol]:
    """``protocol`` that never writes an access line: uvicorn writes one whenever
    its access logger has a handler, whatever ``access_log`` says, and the line
    would carry the token, which opens the debtor's page."""

    class WithoutAccessLog(protocol):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.access_log = False

    return WithoutAccessLog


def _html(page: Page, *, close: bool = False) -> Response:
    headers = dict(SECURITY_HEADERS)
    if close:
        headers["Connection"] = "close"
    return Response(page.body, page.status, headers, media_type=HTML)


def _plain(status: int, text: str, *, close: bool = False) -> Response:
    headers = {"Connection": "close"} if close else None
    return Response(text + "\n", status, headers, media_type="text/plain; charset=utf-8")


class PortalService:
    """:meth:`run` serves until :meth:`stop`."""

    def __init__(self, settings: Settings, port: int | None = None, host: str | None = None):
        self.settings = settings
        self.store = PortalStore(settings.database_dsn())
        self.sink = EventSink(settings, Serde(settings))
        self.portal = Portal(
            strategy=load_strategy(settings.strategy_file),
            keys=Keys.derive(portal_key(settings)),
            store=self.store,
            publish=self.sink.publish,
            payment_url=settings.portal_payment_url,
        )
        self._config = uvicorn.Config(
            self.asgi(),
            host=host or settings.portal_host,
            port=settings.portal_port if port is None else port,
            http=_without_access_log(header_timeout_protocol(settings.webhooks_header_timeout_s)),
            lifespan="off",
            # An access line would carry the token, which opens the debtor's page.
            access_log=False,
            log_config=None,
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=10,
        )
        # Bound now, so the port is known (and taken) before run().
        self._socket = self._config.bind_socket()
        self._server = uvicorn.Server(self._config)

    @property
    def port(self) -> int:
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def host(self) -> str:
        host: str = self._socket.getsockname()[0]
        return host

    def ready(self) -> bool:
        return self.store.ping()

    def metrics(self) -> dict[str, float]:
        counts = self.portal.snapshot_counts()
        out = {f'recaudo_portal_requests_total{{outcome="{k}"}}': float(v) for k, v in counts}
        out["recaudo_portal_events_produced_total"] = float(self.sink.produced)
        return out

    def run(self) -> None:
        log.info("portal listening on %s:%d", self.host, self.port)
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()
            self.sink.close()
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
                Route("/p/{token}", self._open, methods=["GET"]),
                Route("/choose", self._choose, methods=["POST"]),
            ]
        )

    async def _healthz(self, _request: HttpRequest) -> Response:
        return _plain(200, "ok")

    async def _readyz(self, _request: HttpRequest) -> Response:
        ok = await run_in_threadpool(self.ready)
        return _plain(200 if ok else 503, "ready" if ok else "not ready")

    async def _metrics(self, _request: HttpRequest) -> Response:
        page = metrics_page(await run_in_threadpool(self.metrics))
        return Response(page, 200, media_type=PROMETHEUS_TEXT)

    async def _open(self, request: HttpRequest) -> Response:
        token = request.path_params["token"]
        language = request.headers.get("accept-language")
        try:
            page = await run_in_threadpool(self.portal.open, token, language)
        except Exception:
            log.exception("portal page failed")
            return _plain(503, "try again")
        return _html(page)

    async def _choose(self, request: HttpRequest) -> Response:
        try:
            body = await read_body(request, MAX_FORM_BYTES, self.settings.webhooks_body_timeout_s)
        except ValueError:
            return _plain(400, "Content-Length must be a non-negative integer", close=True)
        except BodyTooLarge:
            return _plain(413, f"body over {MAX_FORM_BYTES} bytes", close=True)
        except TimeoutError:
            return _plain(408, "request body too slow", close=True)
        except ClientDisconnect:
            return _plain(400, "client went away before the end of the body", close=True)
        language = request.headers.get("accept-language")
        try:
            page = await run_in_threadpool(self.portal.choose, body, language)
        except Exception:
            log.exception("portal choice failed")
            return _plain(503, "try again")
        return _html(page)
