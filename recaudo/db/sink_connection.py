"""The Postgres connection a stream processor's sink writes through.

A sink's write must outlive a Postgres restart or failover: the worker keeps
its batch and its offsets while the server is away, and writes the same batch
again, on a new connection, once the server is back. Its caller commits its
input offsets only after :meth:`SinkConnection.write` has returned, so a
batch is either written or still uncommitted, never lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg

from recaudo.db.migrate import migrate

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: First wait after a failed attempt; it doubles up to ``BACKOFF_MAX_S``.
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 10.0
#: How long a write (or the migrations at open) keeps trying before it gives up
#: and raises: the worker then exits and its supervisor restarts it.
RETRY_FOR_S = 300.0


class SinkConnection:
    """Migrated once at :meth:`open`; each :meth:`write` retried with backoff,
    on a new connection when the server dropped the old one, while Postgres
    cannot be reached (``psycopg.OperationalError``: server restarting, shut
    down, unreachable). Any other error is the caller's: it is raised at once.
    """

    def __init__(
        self,
        dsn: str,
        *,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        retry_for_s: float = RETRY_FOR_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._retry_for_s = retry_for_s
        self._sleep = sleep
        #: Attempts that failed because Postgres could not be reached, so far.
        self.failed_attempts = 0
        #: Connections opened again after the server dropped one, so far.
        self.reconnects = 0

    def open(self) -> None:
        self._retrying("migrating", lambda: migrate(self._dsn))
        self._retrying("connecting", self.get)

    def get(self) -> psycopg.Connection[Any]:
        """The open connection; a new one if there is none or the server dropped it."""
        if self._conn is None or self._conn.closed:
            if self._conn is not None:
                self.reconnects += 1
            self._conn = psycopg.connect(self._dsn, autocommit=True)
        return self._conn

    def write(
        self,
        fn: Callable[Concatenate[psycopg.Connection[Any], P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``fn(connection, *args, **kwargs)``, retried whole while Postgres is
        away: ``fn`` must be one transaction and idempotent (an upsert), as a
        failure at commit can leave it unknown whether the server kept it."""
        name = getattr(fn, "__name__", "write")
        return self._retrying(name, lambda: fn(self.get(), *args, **kwargs))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _retrying(self, what: str, attempt: Callable[[], T]) -> T:
        give_up_at = time.monotonic() + self._retry_for_s
        wait = self._backoff_initial_s
        while True:
            try:
                return attempt()
            except psycopg.OperationalError as exc:
                self.failed_attempts += 1
                if self._conn is not None and self._conn.broken:
                    # Replaced at the next attempt; a failure that left the
                    # session usable (a lock or statement timeout) retries on it.
                    self._conn.close()
                if time.monotonic() + wait > give_up_at:
                    raise psycopg.OperationalError(
                        f"Postgres unreachable for {self._retry_for_s:.0f} s while {what}: "
                        f"{exc}; check that the server at DATABASE_URL is up and accepts "
                        "connections"
                    ) from exc
                log.warning(
                    "Postgres unreachable while %s (%s); trying again in %.1f s",
                    what,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    wait,
                )
                self._sleep(wait)
                wait = min(wait * 2, self._backoff_max_s)
