"""``/healthz``, ``/readyz`` and Prometheus ``/metrics`` for a long-running service."""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from recaudo.observability import telemetry
from recaudo.process.lifecycle import Service

log = logging.getLogger(__name__)

#: An extra page: query string -> (status, content type, body).
Route = Callable[[str], tuple[int, str, bytes]]
PROMETHEUS_TEXT = "text/plain; version=0.0.4"


def metrics_page(
    metrics: Mapping[str, float], instruments: Callable[[], str] = telemetry.exposition
) -> bytes:
    """A service's own figures (as untyped samples) followed by the process's
    OpenTelemetry instruments, in the Prometheus text format."""
    lines = [f"{name} {value}\n" for name, value in sorted(metrics.items())]
    return ("".join(lines) + instruments()).encode()


class PortInUseError(OSError):
    """Another process listens on the port a server was told to use."""


class HealthServer(Service):
    """Serves liveness (the process answers), readiness (``ready()`` is true) and
    metrics (``metrics()``: name -> value, exposed as Prometheus gauges, then
    ``instruments()``: the OpenTelemetry instruments' page), plus any
    ``routes`` of a service that answers on the same port (the dashboard)."""

    def __init__(
        self,
        port: int,
        ready: Callable[[], bool],
        metrics: Callable[[], Mapping[str, float]] = dict,
        host: str = "0.0.0.0",
        routes: Mapping[str, Route] | None = None,
        instruments: Callable[[], str] = telemetry.exposition,
    ) -> None:
        outer = self
        pages = dict(routes or {})

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path in pages:
                    try:
                        code, ctype, body = pages[path](query)
                    except Exception as exc:  # one failed page, not a dead server
                        log.exception("GET %s failed", path)
                        code, ctype, body = 500, "text/plain", f"error: {exc}\n".encode()
                    self._reply(code, body, ctype)
                elif self.path == "/healthz":
                    self._reply(200, "ok\n")
                elif self.path == "/readyz":
                    ok = outer.ready()
                    self._reply(200 if ok else 503, "ready\n" if ok else "not ready\n")
                elif self.path == "/metrics":
                    self._reply(200, metrics_page(outer.metrics(), instruments), PROMETHEUS_TEXT)
                else:
                    self._reply(404, "not found\n")

            def _reply(self, code: int, body: str | bytes, ctype: str = "text/plain") -> None:
                data = body.encode() if isinstance(body, str) else body
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass  # probes every few seconds would drown the log

        self.ready = ready
        self.metrics = metrics
        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortInUseError(
                exc.errno,
                f"port {port} on {host} is in use by another process: "
                "choose another port, or 0 for any free one",
            ) from exc
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
