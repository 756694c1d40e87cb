"""The portal's Postgres: the debtor's view (read) and the choices made
(one per link, recorded in the same transaction that waits for the event's
acknowledgement, so a replayed or concurrent choice changes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recaudo.contracts.records import DebtEvent, DebtorView
from recaudo.db.service_pool import PooledStore
from recaudo.db.view_store import read_view

# Created here rather than in recaudo/db/migrations: the table belongs to the
# portal alone, so idempotent DDL at start is all it needs.
_DDL = (
    "CREATE TABLE IF NOT EXISTS portal_choices ("
    " link_id text PRIMARY KEY,"
    " debtor_id text NOT NULL,"
    " event_id uuid NOT NULL,"
    " kind text NOT NULL,"
    " offer_id text NOT NULL,"
    " chosen_at timestamptz NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Choice:
    kind: str
    offer_id: str
    chosen_at: datetime


class ChoiceNotPublished(RuntimeError):
    """The brokers did not acknowledge the choice's event: nothing was recorded."""


class PortalStore(PooledStore):
    def __init__(self, dsn: str, max_connections: int = 8) -> None:
        super().__init__(dsn, (_DDL,), max_connections)

    def view(self, debtor_id: str, now: datetime) -> DebtorView | None:
        with self._pool.connection() as conn:
            return read_view(conn, debtor_id, now)

    def choice(self, link_id: str) -> Choice | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT kind, offer_id, chosen_at FROM portal_choices WHERE link_id = %s",
                (link_id,),
            ).fetchone()
        return None if row is None else Choice(row[0], row[1], row[2])

    def record(
        self, link_id: str, event: DebtEvent, publish: Callable[[DebtEvent], bool]
    ) -> Choice | None:
        """Record the link's choice and publish its event, together: None when
        done; the earlier choice when the link was used already (nothing
        published); ChoiceNotPublished when the brokers did not acknowledge
        (nothing recorded, the debtor may try again)."""
        payload: Any = event.payload
        offer_id = getattr(payload, "plan_id", None) or getattr(payload, "promise_id", "")
        with self._pool.connection() as conn, conn.transaction():
            # A concurrent POST for the same link waits here until this commits.
            row = conn.execute(
                "INSERT INTO portal_choices (link_id, debtor_id, event_id, kind, offer_id,"
                " chosen_at) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (link_id) DO NOTHING RETURNING link_id",
                (link_id, event.debtor_id, event.event_id, event.type, offer_id, event.occurred_at),
            ).fetchone()
            if row is None:
                earlier = conn.execute(
                    "SELECT kind, offer_id, chosen_at FROM portal_choices WHERE link_id = %s",
                    (link_id,),
                ).fetchone()
                assert earlier is not None  # noqa: S101 - the conflict was on this row
                return Choice(earlier[0], earlier[1], earlier[2])
            if not publish(event):
                raise ChoiceNotPublished(f"event {event.event_id} not acknowledged")
        return None
