"""``recaudo desk run``: :class:`~recaudo.desk.app.DeskApp` on the hardened
HTTP service (:mod:`recaudo.process.http_service`): URLs carry task ids, so no access
line is written; agents' requests are audited by the app instead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from recaudo.desk.app import DeskApp
from recaudo.desk.publisher import DeskPublisher
from recaudo.desk.sessions import desk_has_agents
from recaudo.desk.store import DeskStore
from recaudo.process.http_service import HttpService
from recaudo.settings import Settings

NO_AGENT = (
    "no agent can use the desk: set RECAUDO_DESK_AGENTS (hashes from "
    "`recaudo desk hash-password`) or RECAUDO_DESK_TRUSTED_HEADER"
)


class DeskService(HttpService):
    """:meth:`run` serves until :meth:`stop`; or ``with`` it to serve from a thread."""

    def __init__(
        self,
        settings: Settings,
        port: int | None = None,
        host: str | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not desk_has_agents(settings.desk_agents, settings.desk_trusted_header):
            raise ValueError(NO_AGENT)
        self.store = DeskStore(settings.database_dsn())
        self.publisher = DeskPublisher(settings)
        self.app = DeskApp(settings, self.store, self.publisher, clock=clock)
        super().__init__(
            "desk",
            self.app.asgi(),
            host=host or settings.desk_host,
            port=settings.desk_port if port is None else port,
            header_timeout_s=settings.webhooks_header_timeout_s,
            on_close=(self.publisher.close, self.store.close),
        )
