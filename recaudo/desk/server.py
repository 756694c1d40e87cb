"""``recaudo desk run``: :class:`~recaudo.desk.app.DeskApp` on uvicorn, with
the webhook service's hardening (a deadline on each request's headers and
body, a bounded body, no access log: URLs carry task ids, and agents'
requests are audited by the app instead)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

import uvicorn

from connectors.webhooks.server import header_timeout_protocol
from recaudo.desk.app import DeskApp
from recaudo.desk.publisher import DeskPublisher
from recaudo.desk.store import DeskStore
from recaudo.settings import Settings

log = logging.getLogger(__name__)


class DeskService:
    """:meth:`run` serves until :meth:`stop`; or ``with`` it to serve from a thread."""

    def __init__(
        self,
        settings: Settings,
        port: int | None = None,
        host: str | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not settings.desk_agents and settings.desk_trusted_header is None:
            raise ValueError(
                "no agent can use the desk: set RECAUDO_DESK_AGENTS (hashes from "
                "`recaudo desk hash-password`) or RECAUDO_DESK_TRUSTED_HEADER"
            )
        self.store = DeskStore(settings.database_dsn())
        self.publisher = DeskPublisher(settings)
        self.app = DeskApp(settings, self.store, self.publisher, clock=clock)
        self._config = uvicorn.Config(
            self.app.asgi(),
            host=host or settings.desk_host,
            port=settings.desk_port if port is None else port,
            http=header_timeout_protocol(settings.webhooks_header_timeout_s),
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            # The agent comes from the configured header only, never X-Forwarded-*.
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
        log.info("desk listening on %s:%d", self.host, self.port)
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()
            self.publisher.close()
            self.store.close()

    def stop(self) -> None:
        """Safe from any thread and from a signal handler."""
        self._server.should_exit = True

    def __enter__(self) -> DeskService:
        self._thread = threading.Thread(target=self.run, name="desk", daemon=True)
        self._thread.start()
        started = threading.Event()
        while not self._server.started and self._thread.is_alive():
            started.wait(0.02)  # uvicorn has no event to wait on
        if not self._server.started:
            raise RuntimeError("the desk did not start: see its log")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(15)
