"""The sent-ledger: what this connector already handed to its provider.

A command redelivered after a crash or rebalance is looked up here first: if
its outcome is recorded, that outcome is emitted again and the provider is not
called. The provider idempotency key (``dispatch_id``) covers the gap between
"sent" and "recorded" and commands that moved to another replica.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    dispatch_id: str
    status: str
    provider_message_id: str | None
    error_code: str | None
    error_message: str | None


class SentLedger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sent (dispatch_id TEXT PRIMARY KEY, status TEXT NOT NULL,"
            " provider_message_id TEXT, error_code TEXT, error_message TEXT,"
            " recorded_at REAL DEFAULT (julianday('now')))"
        )
        self._lock = threading.Lock()

    def get(self, dispatch_id: str) -> LedgerEntry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT dispatch_id, status, provider_message_id, error_code, error_message"
                " FROM sent WHERE dispatch_id = ?",
                (dispatch_id,),
            ).fetchone()
        return LedgerEntry(*row) if row else None

    def record_many(self, entries: list[LedgerEntry]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO sent (dispatch_id, status, provider_message_id,"
                " error_code, error_message) VALUES (?, ?, ?, ?, ?)",
                [
                    (e.dispatch_id, e.status, e.provider_message_id, e.error_code, e.error_message)
                    for e in entries
                ],
            )

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM sent").fetchone()
        return int(count)

    def close(self) -> None:
        self._db.close()
