"""The Postgres connection pool an HTTP service's store keeps: autocommit
connections, the service's own tables made at start (idempotent DDL), a
readiness ping and a close."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg_pool import ConnectionPool


class PooledStore:
    """Base of a service's store: ``self._pool`` is open once ``__init__`` ran
    every statement of ``ddl``."""

    def __init__(self, dsn: str, ddl: Sequence[str] = (), max_connections: int = 8) -> None:
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=max_connections, open=True, kwargs={"autocommit": True}
        )
        with self._pool.connection() as conn:
            for statement in ddl:
                conn.execute(statement.encode())

    def close(self) -> None:
        self._pool.close()

    def ping(self) -> bool:
        """Whether Postgres answers within 2 s (what ``/readyz`` reports)."""
        try:
            with self._pool.connection(timeout=2) as conn:
                conn.execute("SELECT 1")
        except Exception:
            return False
        return True
