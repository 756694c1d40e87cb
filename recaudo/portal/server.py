"""``recaudo portal run``: :class:`~recaudo.portal.app.Portal` on the hardened
HTTP service (:mod:`recaudo.process.http_service`), with the probes on the same port
(``/healthz``, ``/readyz``, ``/metrics``): a deadline on each request's headers
(``webhooks_header_timeout_s``) and on its body (``webhooks_body_timeout_s``),
a body bounded while it is read (:data:`~recaudo.portal.app.MAX_FORM_BYTES`),
no access log (its lines would hold the token), no server header.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from recaudo.kafka.serde import Serde
from recaudo.orchestration.strategy import load_strategy
from recaudo.portal.app import MAX_FORM_BYTES, SECURITY_HEADERS, Page, Portal
from recaudo.portal.sink import EventSink
from recaudo.portal.store import PortalStore
from recaudo.portal.token import Keys, portal_key
from recaudo.process.http_service import HttpService, body_or_refusal, plain, probe_routes
from recaudo.settings import Settings

log = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"


def _html(page: Page) -> Response:
    return Response(page.body, page.status, dict(SECURITY_HEADERS), media_type=HTML)


class PortalService(HttpService):
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
        super().__init__(
            "portal",
            self.asgi(),
            host=host or settings.portal_host,
            port=settings.portal_port if port is None else port,
            header_timeout_s=settings.webhooks_header_timeout_s,
            on_close=(self.sink.close, self.store.close),
        )

    def ready(self) -> bool:
        return self.store.ping()

    def metrics(self) -> dict[str, float]:
        counts = self.portal.snapshot_counts()
        out = {f'recaudo_portal_requests_total{{outcome="{k}"}}': float(v) for k, v in counts}
        out["recaudo_portal_events_produced_total"] = float(self.sink.produced)
        return out

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                *probe_routes(self.ready, self.metrics),
                Route("/p/{token}", self._open, methods=["GET"]),
                Route("/choose", self._choose, methods=["POST"]),
            ]
        )

    async def _open(self, request: HttpRequest) -> Response:
        token = request.path_params["token"]
        language = request.headers.get("accept-language")
        try:
            page = await run_in_threadpool(self.portal.open, token, language)
        except Exception:
            log.exception("portal page failed")
            return plain(503, "try again")
        return _html(page)

    async def _choose(self, request: HttpRequest) -> Response:
        body = await body_or_refusal(request, MAX_FORM_BYTES, self.settings.webhooks_body_timeout_s)
        if isinstance(body, Response):
            return body
        language = request.headers.get("accept-language")
        try:
            page = await run_in_threadpool(self.portal.choose, body, language)
        except Exception:
            log.exception("portal choice failed")
            return plain(503, "try again")
        return _html(page)
