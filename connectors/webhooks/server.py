"""``recaudo webhooks run``: the HTTP server in front of :class:`WebhookApp`,
with the correlation projection beside it and the probes on the same port
(``/healthz``, ``/readyz``, ``/metrics``), as the deployment expects."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from connectors.webhooks.app import MAX_BODY_BYTES, Reply, Request, WebhookApp
from connectors.webhooks.projection import CorrelationProjection
from connectors.webhooks.sink import ResponseSink
from connectors.webhooks.store import CorrelationStore
from recaudo.health import PROMETHEUS_TEXT, metrics_page
from recaudo.serde import Serde
from recaudo.settings import Settings

log = logging.getLogger(__name__)


class WebhookService:
    """:meth:`run` serves until :meth:`stop`."""

    def __init__(self, settings: Settings, port: int, host: str = "0.0.0.0") -> None:
        serde = Serde(settings)
        self.store = CorrelationStore(settings.database_dsn())
        self.sink = ResponseSink(settings, serde)
        self.projection = CorrelationProjection(settings, serde, self.store)
        self.app = WebhookApp(settings, self.store, self.sink.publish)
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._projector = threading.Thread(
            target=self.projection.run, name="webhook-projection", daemon=True
        )

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def ready(self) -> bool:
        return self.projection.assigned and self.store.ping()

    def metrics(self) -> dict[str, float]:
        return {
            **self.app.metrics(),
            "recaudo_webhooks_projected_total": float(self.projection.projected),
            "recaudo_webhooks_responses_produced_total": float(self.sink.produced),
        }

    def run(self) -> None:
        self._projector.start()
        log.info("webhooks listening on :%d", self.port)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self.projection.stop()
            self._projector.join(10)
            self.sink.close()
            self.store.close()

    def stop(self) -> None:
        # shutdown() waits for serve_forever to return: never call it from the
        # serving thread itself (a signal handler runs there).
        threading.Thread(target=self._server.shutdown, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._dispatch()

            def do_POST(self) -> None:
                self._dispatch()

            def _dispatch(self) -> None:
                path, _, query = self.path.partition("?")
                probe = self._probe(path) if self.command == "GET" else None
                if probe is not None:
                    self._send(probe)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self.close_connection = True
                    self._send(Reply(413, b"too large\n"))
                    return
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                self._send(service.app.handle(Request(self.command, path, query, headers, body)))

            def _probe(self, path: str) -> Reply | None:
                if path == "/healthz":
                    return Reply(200, b"ok\n")
                if path == "/readyz":
                    ok = service.ready()
                    return Reply(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
                if path == "/metrics":
                    return Reply(200, metrics_page(service.metrics()), PROMETHEUS_TEXT)
                return None

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                # The default line has the query string (Meta's verify token)
                # and the client address; the app logs what matters.
                pass

        return Handler
