"""`recaudo dashboard`: the collections dashboard over HTTP.

``/`` is the page (rendered complete on the server), ``/api/dashboard`` the
JSON it polls to refresh itself, and ``/healthz``, ``/readyz``, ``/metrics``
the probes every long-running recaudo service answers, all on one port.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from recaudo.dashboard.data import Snapshot, read_snapshot
from recaudo.dashboard.lag import LagProbe, LagReport
from recaudo.dashboard.page import figures, render_page, sections
from recaudo.observability.health import HealthServer
from recaudo.process.lifecycle import Service
from recaudo.settings import Settings


class Dashboard(Service):
    """Reads Postgres and the brokers at most once per ``cache_s`` however many
    browsers poll, and serves what it read."""

    def __init__(
        self,
        settings: Settings,
        port: int = 8050,
        host: str = "127.0.0.1",
        refresh_s: float = 5.0,
        cache_s: float = 1.0,
    ) -> None:
        self._dsn = settings.database_dsn()
        self._state_dir = settings.state_dir
        self._lag = LagProbe(settings) if settings.kafka_bootstrap_servers else None
        self.refresh_s = refresh_s
        self._cache_s = cache_s
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._snapshot = Snapshot()
        self._lag_report = LagReport(error="no broker configured")
        self._reads = 0
        self._last_read_s = 0.0
        self._server = HealthServer(
            port,
            ready=self._ready,
            metrics=self.metrics,
            host=host,
            routes={"/": self._page, "/api/dashboard": self._api},
        )

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _current(self) -> tuple[Snapshot, LagReport]:
        with self._lock:
            if time.monotonic() - self._read_at >= self._cache_s:
                started = time.monotonic()
                self._snapshot = read_snapshot(self._dsn, self._state_dir)
                if self._lag is not None:
                    self._lag_report = self._lag.sample()
                self._read_at = time.monotonic()
                self._last_read_s = self._read_at - started
                self._reads += 1
            return self._snapshot, self._lag_report

    def _page(self, _query: str) -> tuple[int, str, bytes]:
        snap, lag = self._current()
        html = render_page(snap, lag, self.refresh_s, datetime.now(UTC))
        return 200, "text/html; charset=utf-8", html.encode()

    def _api(self, _query: str) -> tuple[int, str, bytes]:
        snap, lag = self._current()
        body: dict[str, Any] = {
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S %Z"),
            "figures": figures(snap, lag),
            "sections": sections(snap, lag),
        }
        return 200, "application/json", orjson.dumps(body)

    def _ready(self) -> bool:
        snap, _ = self._current()
        return snap.error is None

    def metrics(self) -> dict[str, float]:
        snap, lag = self._snapshot, self._lag_report
        c = snap.overall
        out = {
            "recaudo_dashboard_reads_total": float(self._reads),
            "recaudo_dashboard_read_seconds": self._last_read_s,
            "recaudo_kpi_contacts": float(c.contacts),
            "recaudo_kpi_delivered": float(c.delivered),
            "recaudo_kpi_promises": float(c.promises),
            "recaudo_kpi_cures": float(c.cures),
            # Summed over the deployment's groups; each worker reports its own
            # per partition as recaudo_consumer_lag.
            "recaudo_dashboard_consumer_lag": float(lag.total_lag),
            "recaudo_dashboard_workers_crash_looping": float(len(snap.crash_looping)),
        }
        for currency, minor in sorted(c.recovered_minor.items()):
            out[f'recaudo_kpi_recovered_minor{{currency="{currency}"}}'] = float(minor)
        return out

    def start(self) -> Dashboard:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._lag is not None:
            self._lag.close()

    def serve_forever(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set (the CLI sets it on SIGINT/SIGTERM)."""
        with self:
            stop.wait()
