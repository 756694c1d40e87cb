"""The Postgres connection a stream processor's sink writes through."""

from __future__ import annotations

from typing import Any

import psycopg

from recaudo.db.migrate import migrate


class SinkConnection:
    """Migrated once at :meth:`open`; reopened on the next write if the
    server dropped it (the checkpoint that failed is retried)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None

    def open(self) -> None:
        migrate(self._dsn)
        self._conn = psycopg.connect(self._dsn, autocommit=True)

    def get(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
