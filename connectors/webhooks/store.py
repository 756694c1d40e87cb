"""Where a provider's message id, or a debtor's address, leads back to the
dispatch and debtor it belongs to.

Kept in Postgres because the webhook service runs several replicas behind one
load balancer: any replica may receive the callback for a message, so all of
them must see the same table, and Postgres is already part of every
deployment. The table is a projection of the topics (see ``projection``), so
it can always be rebuilt by replaying them; losing it loses nothing.

Addresses are stored only as a SHA-256 of their normalised form: enough to
match an inbound message to the debtor last contacted at that address,
without keeping a readable copy of every phone number here.

The same database remembers which provider callbacks were already recorded
(``webhook_deliveries``), so that every replica, and a restarted one, knows a
replayed callback when it sees it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from recaudo.contracts.records import Channel
from recaudo.db.service_pool import PooledStore

# Created here rather than in recaudo/db/migrations: the tables belong to the
# webhook service alone and are a disposable projection, so idempotent DDL at
# start is all they need.
_DDL = (
    "CREATE TABLE IF NOT EXISTS provider_messages ("
    " provider_message_id text PRIMARY KEY,"
    " dispatch_id text NOT NULL,"
    " debtor_id text NOT NULL,"
    " channel text NOT NULL,"
    " provider text NOT NULL,"
    " recorded_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS contact_addresses ("
    " address_hash text NOT NULL,"
    " channel text NOT NULL,"
    " debtor_id text NOT NULL,"
    " dispatch_id text NOT NULL,"
    " contacted_at timestamptz NOT NULL,"
    " PRIMARY KEY (address_hash, channel))",
    # Callbacks already recorded, so a replayed one is not recorded twice; rows
    # older than the replay window are deleted, which keeps the table bounded.
    "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
    " delivery_key text PRIMARY KEY,"
    " seen_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_seen_at ON webhook_deliveries (seen_at)",
)


def address_hash(channel: Channel, address: str) -> str:
    """Hash of the address as providers write it back: phone numbers as + and
    digits only, emails lower-cased."""
    if channel == "email":
        normal = address.strip().lower()
    else:
        normal = "+" + "".join(ch for ch in address if ch.isdigit())
    return hashlib.sha256(f"{channel}:{normal}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Correlation:
    dispatch_id: str
    debtor_id: str


@dataclass(frozen=True, slots=True)
class SentMessage:
    provider_message_id: str
    dispatch_id: str
    debtor_id: str
    channel: Channel
    provider: str


@dataclass(frozen=True, slots=True)
class Contact:
    channel: Channel
    address: str
    debtor_id: str
    dispatch_id: str
    contacted_at: datetime


class CorrelationStore(PooledStore):
    def __init__(self, dsn: str, max_connections: int = 8) -> None:
        super().__init__(dsn, _DDL, max_connections)

    def record_messages(self, rows: Sequence[SentMessage]) -> None:
        if not rows:
            return
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO provider_messages"
                " (provider_message_id, dispatch_id, debtor_id, channel, provider)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (provider_message_id) DO NOTHING",
                [
                    (r.provider_message_id, r.dispatch_id, r.debtor_id, r.channel, r.provider)
                    for r in rows
                ],
            )

    def record_contacts(self, rows: Sequence[Contact]) -> None:
        """Remember the latest dispatch per address; an older one replayed
        later does not overwrite it."""
        if not rows:
            return
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO contact_addresses"
                " (address_hash, channel, debtor_id, dispatch_id, contacted_at)"
                " VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (address_hash, channel) DO UPDATE SET"
                " debtor_id = EXCLUDED.debtor_id, dispatch_id = EXCLUDED.dispatch_id,"
                " contacted_at = EXCLUDED.contacted_at"
                " WHERE contact_addresses.contacted_at <= EXCLUDED.contacted_at",
                [
                    (
                        address_hash(r.channel, r.address),
                        r.channel,
                        r.debtor_id,
                        r.dispatch_id,
                        r.contacted_at,
                    )
                    for r in rows
                ],
            )

    def by_message(self, provider_message_id: str) -> Correlation | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT dispatch_id, debtor_id FROM provider_messages"
                " WHERE provider_message_id = %s",
                (provider_message_id,),
            ).fetchone()
        return Correlation(*row) if row else None

    def by_address(self, channel: Channel, address: str) -> Correlation | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT dispatch_id, debtor_id FROM contact_addresses"
                " WHERE address_hash = %s AND channel = %s",
                (address_hash(channel, address), channel),
            ).fetchone()
        return Correlation(*row) if row else None

    def seen_deliveries(self, keys: Collection[str], since: datetime) -> set[str]:
        """Those of ``keys`` recorded at or after ``since``."""
        if not keys:
            return set()
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT delivery_key FROM webhook_deliveries"
                " WHERE delivery_key = ANY(%s) AND seen_at >= %s",
                (list(keys), since),
            ).fetchall()
        return {row[0] for row in rows}

    def record_deliveries(self, keys: Collection[str], at: datetime) -> None:
        if not keys:
            return
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO webhook_deliveries (delivery_key, seen_at) VALUES (%s, %s)"
                " ON CONFLICT (delivery_key) DO UPDATE SET seen_at = EXCLUDED.seen_at",
                [(key, at) for key in sorted(keys)],
            )

    def forget_deliveries(self, before: datetime) -> int:
        """Delete what was recorded before ``before``; the number deleted."""
        with self._pool.connection() as conn:
            deleted = conn.execute(
                "DELETE FROM webhook_deliveries WHERE seen_at < %s", (before,)
            ).rowcount
        return max(deleted, 0)
