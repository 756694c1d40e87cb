"""The embedded Postgres: a real PostgreSQL 16 from the ``pgserver`` wheel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recaudo.lifecycle import Service


class PostgresError(RuntimeError):
    pass


class EmbeddedPostgres(Service):
    """PostgreSQL with its data in ``data_dir`` (kept across runs), reached over a
    Unix socket inside that directory, so it needs no TCP port.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        if self._server is not None:
            return self
        try:
            import pgserver
        except ImportError as exc:
            raise PostgresError(
                "pgserver is not installed: `pip install pgserver`, or set DATABASE_URL."
            ) from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # "stop" shuts the server down on cleanup but keeps the data directory.
        self._server = pgserver.get_server(  # type: ignore[attr-defined]
            str(self.data_dir), cleanup_mode="stop"
        )
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise PostgresError("embedded Postgres is not started")
        uri: str = self._server.get_uri()
        return uri

    @property
    def pid(self) -> int | None:
        if self._server is None:
            return None
        info = self._server.get_postmaster_info()
        return int(info.pid) if info is not None and info.pid else None

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
