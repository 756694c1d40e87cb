"""``recaudo webhooks run``: :class:`WebhookApp` on the hardened HTTP service
(:mod:`recaudo.process.http_service`), with the correlation projection beside it and
the probes on the same port (``/healthz``, ``/readyz``, ``/metrics``), as the
deployment expects.

A body over :data:`MAX_BODY_BYTES` is answered 413 as soon as its
Content-Length says so, or, chunked, as soon as the bytes read pass it; a body
not complete within ``webhooks_body_timeout_s`` is answered 408. Each of these
answers closes the connection.
"""

from __future__ import annotations

import logging
import threading

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from connectors.inbound_email.receiver import DeadLetterProducer
from connectors.webhooks.app import MAX_BODY_BYTES, Reply, Request, WebhookApp
from connectors.webhooks.projection import CorrelationProjection
from connectors.webhooks.sink import ResponseSink
from connectors.webhooks.store import CorrelationStore
from recaudo.kafka.serde import Serde
from recaudo.process.http_service import (
    BodyTooLarge,
    HttpService,
    body_or_refusal,
    header_timeout_protocol,
    probe_routes,
    read_body,
)
from recaudo.settings import Settings

__all__ = ["BodyTooLarge", "WebhookService", "header_timeout_protocol", "read_body"]

log = logging.getLogger(__name__)


class WebhookService(HttpService):
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
        self._projector = threading.Thread(
            target=self.projection.run, name="webhook-projection", daemon=True
        )
        super().__init__(
            "webhooks",
            self.asgi(),
            host=host or settings.webhooks_host,
            port=port,
            header_timeout_s=settings.webhooks_header_timeout_s,
            on_close=(
                self.projection.stop,
                lambda: self._projector.join(10),
                self.sink.close,
                self.dead_letters.close,
                self.store.close,
            ),
        )

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
        super().run()

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                *probe_routes(self.ready, self.metrics),
                Route("/{path:path}", self._callback, methods=["GET", "POST"]),
            ]
        )

    async def _callback(self, request: HttpRequest) -> Response:
        body = await body_or_refusal(request, MAX_BODY_BYTES, self.settings.webhooks_body_timeout_s)
        if isinstance(body, Response):
            return body
        headers = {name.lower(): value for name, value in request.headers.items()}
        # The path as sent, not decoded: Twilio signs the URL it called.
        path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        call = Request(request.method, path, request.url.query, headers, body)
        try:
            reply: Reply = await run_in_threadpool(self.app.handle, call)
        except Exception:
            log.exception("webhook %s %s failed", request.method, request.url.path)
            reply = Reply(503, b"try again\n")
        return Response(reply.body, reply.status, media_type=reply.content_type)
