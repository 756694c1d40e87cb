"""The sent-ledger: what this connector handed, or was about to hand, to its
provider.

Before a dispatch's first call to the provider the connector records an
*intent* (:meth:`SentLedger.begin`); as soon as the provider answers it
records the *outcome* (:meth:`SentLedger.record`). Each is its own SQLite
transaction, committed before the connector goes on, so a process killed at
any point leaves one of three states per dispatch:

* nothing: the provider was never called; the command is sent when redelivered;
* an outcome: the redelivered command is answered from the ledger;
* an intent without an outcome: the provider may or may not have the message.
  The connector asks the provider where the adapter can (``lookup``), and
  otherwise reports the outcome as unknown and never calls the provider again.

:class:`LedgerWriter` lets the sends in progress share commits: the intents
and outcomes asked for while the event loop runs one round are committed
together at the start of the next, and each waiting send goes on only then.

The database is in WAL mode: a commit is in the write-ahead log when it
returns, so it survives the process being killed. ``synchronous=NORMAL``
leaves the last commits to the operating system's cache (lost only if the
machine itself goes down); ``FULL`` syncs every commit to disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

#: The status of a recorded intent: the provider was about to be called.
INTENT: Final = "INTENT"

Synchronous = Literal["normal", "full"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    dispatch_id: str
    status: str
    provider_message_id: str | None
    error_code: str | None
    error_message: str | None

    @property
    def is_intent(self) -> bool:
        """Recorded before the provider call and never followed by its outcome."""
        return self.status == INTENT


class SentLedger:
    def __init__(self, path: Path, synchronous: Synchronous = "normal") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sent (dispatch_id TEXT PRIMARY KEY, status TEXT NOT NULL,"
            " provider_message_id TEXT, error_code TEXT, error_message TEXT,"
            " recorded_at REAL DEFAULT (julianday('now')))"
        )
        self._lock = threading.Lock()

    def get(self, dispatch_id: str) -> LedgerEntry | None:
        """The dispatch's outcome, or its intent (``is_intent``), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT dispatch_id, status, provider_message_id, error_code, error_message"
                " FROM sent WHERE dispatch_id = ?",
                (dispatch_id,),
            ).fetchone()
        return LedgerEntry(*row) if row else None

    def begin(self, dispatch_id: str) -> bool:
        """Record the intent to call the provider, committed when this returns.
        False if the dispatch already has an intent or an outcome."""
        return self.commit([], [dispatch_id])[0]

    def record(self, entry: LedgerEntry) -> None:
        """Record one dispatch's outcome, committed when this returns."""
        self.commit([entry], [])

    def record_many(self, entries: list[LedgerEntry]) -> None:
        self.commit(entries, [])

    def commit(self, outcomes: list[LedgerEntry], intents: list[str]) -> list[bool]:
        """Record ``outcomes`` and then ``intents`` in one transaction,
        committed when this returns; for each intent, whether it is new."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO sent (dispatch_id, status, provider_message_id,"
                    " error_code, error_message) VALUES (?, ?, ?, ?, ?)",
                    [
                        (
                            e.dispatch_id,
                            e.status,
                            e.provider_message_id,
                            e.error_code,
                            e.error_message,
                        )
                        for e in outcomes
                    ],
                )
                new = [
                    self._db.execute(
                        "INSERT OR IGNORE INTO sent (dispatch_id, status) VALUES (?, ?)",
                        (dispatch_id, INTENT),
                    ).rowcount
                    == 1
                    for dispatch_id in intents
                ]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return new

    def unresolved(self) -> list[str]:
        """Dispatches with an intent and no outcome, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT dispatch_id FROM sent WHERE status = ? ORDER BY recorded_at, dispatch_id",
                (INTENT,),
            ).fetchall()
        return [row[0] for row in rows]

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM sent").fetchone()
        return int(count)

    def close(self) -> None:
        self._db.close()


@dataclass(slots=True)
class _Pending:
    outcomes: list[LedgerEntry] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    intent_waiters: list[asyncio.Future[bool]] = field(default_factory=list)


class LedgerWriter:
    """Group commit for the coroutines of one event loop: what they ask for
    in one round of the loop is one transaction, and each call returns only
    once its record is committed."""

    def __init__(self, ledger: SentLedger) -> None:
        self._ledger = ledger
        self._pending: _Pending | None = None

    async def begin(self, dispatch_id: str) -> bool:
        """:meth:`SentLedger.begin`, committed with the round's other records."""
        pending = self._round()
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        pending.intents.append(dispatch_id)
        pending.intent_waiters.append(waiter)
        return await waiter

    async def record(self, entry: LedgerEntry) -> None:
        """:meth:`SentLedger.record`, committed with the round's other records."""
        pending = self._round()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending.outcomes.append(entry)
        pending.waiters.append(waiter)
        await waiter

    def _round(self) -> _Pending:
        if self._pending is None:
            self._pending = _Pending()
            # Runs after every callback already queued for this round.
            asyncio.get_running_loop().call_soon(self._flush)
        return self._pending

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            new = self._ledger.commit(pending.outcomes, pending.intents)
        except Exception as exc:  # every waiter learns its record was not kept
            waiters: list[asyncio.Future[None]] | list[asyncio.Future[bool]]
            for waiters in (pending.waiters, pending.intent_waiters):
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
            return
        for done in pending.waiters:
            if not done.done():
                done.set_result(None)
        for intent_waiter, is_new in zip(pending.intent_waiters, new, strict=True):
            if not intent_waiter.done():
                intent_waiter.set_result(is_new)
