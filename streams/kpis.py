"""Collection KPIs, computed as streams.

Two stages in one quixstreams application:

1. keyed by ``debtor_id`` over contact decisions, channel responses, debt
   events and agent tasks (co-partitioned): :func:`recaudo.kpis.observe`
   attributes each event
   to its channel, bucket and strategy arm from the debtor's state (RocksDB,
   with its changelog) and spreads it over those dimension members;
2. re-keyed by member (``CHANNEL:sms``; quixstreams' repartition topic): each
   member's hourly event-time windows and running total are added up in its own
   state by :func:`recaudo.kpis.aggregate`.

At every checkpoint the windows that changed are published once each, latest
revision, to the kpis topic, and upserted into Postgres. The checkpoint commits
input offsets only after that, so a crash re-delivers and re-writes (revision-
guarded upserts; replayed contributions are recognised by their source offset)
instead of losing or double-counting anything.

With conversations on (``RECAUDO_CONVERSATIONS``), each inbound message is
read by the conversation's own intent model (:func:`read_intent`), trained
when the first message comes, so replies understood are counted as the
worker understood them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from quixstreams import message_context
from quixstreams.sinks.base import BaseSink
from quixstreams.state import State

from recaudo.contracts.records import Envelope, KpiWindow
from recaudo.db.kpi_store import write_kpis
from recaudo.db.sink_connection import SinkConnection
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.kpis import (
    COUNTER_NAMES,
    MAP_NAMES,
    Contribution,
    DebtorKpiState,
    KpiRow,
    Reader,
    aggregate,
    contributions,
    member_key,
    observe,
)
from recaudo.settings import Settings
from streams.processor import StreamProcessor

log = logging.getLogger(__name__)

NAME = "kpis"
INPUTS = ("contact-decisions", "channel-responses", "debt-events", "agent-tasks")
STATE_KEY = "kpi"
SOURCE = "recaudo.kpis"


#: Dates in a message do not change its intent: any fixed instant reads it.
_READ_AT = datetime(2026, 1, 1, tzinfo=UTC)


def read_intent(text: str) -> tuple[str, bool]:
    """A message's intent as the conversation worker reads it (same model,
    language detected, Spanish when too short to tell; the profile's language
    is not known here), and whether the dialogue would act on it."""
    from recaudo.conversation.dialogue import Limits, effective_intent
    from recaudo.understanding.understand import understand

    understood = understand(text, language=None, time_zone="UTC", currency="USD", now=_READ_AT)
    # The intent the dialogue acts on: unknown below its confidence floor.
    intent = effective_intent(understood, Limits())
    return intent, intent != "unknown"


def attribute(
    event: Envelope, state: State[Any, Any], read: Reader | None = None
) -> list[dict[str, Any]]:
    """Stage 1 (per debtor): the event's contributions, one per dimension member."""
    raw = state.get(STATE_KEY)
    debtor = DebtorKpiState.decode(raw) if raw is not None else DebtorKpiState()
    found = observe(debtor, event, read)
    # Even an event that adds nothing may change what later ones are
    # attributed to (a bucket, a dispatch) and is remembered as seen.
    state.set(STATE_KEY, debtor.encode())
    if not found:
        return []
    ctx = message_context()
    return [c.to_json() for c in contributions(found, ctx.topic, ctx.partition, ctx.offset)]


def add_up(value: dict[str, Any], state: State[Any, Any]) -> list[KpiRow]:
    """Stage 2 (per member): the windows this contribution changed."""
    return aggregate(state, Contribution.from_json(value))


def to_record(row: KpiRow) -> KpiWindow:
    c = row.counters
    end = row.window_end_ms
    return KpiWindow(
        # The same window at the same revision is the same record: a redelivery
        # carries the same id.
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"recaudo:kpi:{row.ident}:{row.revision}"),
        occurred_at=KpiRow.time(row.last_event_ms),
        source=SOURCE,
        dimension=row.dimension,
        member=row.member,
        period=row.period,
        window_start=KpiRow.time(row.window_start_ms),
        window_end=KpiRow.time(end) if end is not None else None,
        revision=row.revision,
        **{name: dict(getattr(c, name)) for name in MAP_NAMES},
        **{name: getattr(c, name) for name in COUNTER_NAMES},
    )


class KpiSink(BaseSink):
    """The changed windows, published and written at each checkpoint (latest
    revision of each: a burst of events makes one row per window)."""

    def __init__(self, settings: Settings, serde: Serde, *, publish: bool, dsn: str | None) -> None:
        super().__init__()
        self._serde = serde
        self._topic = serde.topics.kpis
        self._db = SinkConnection(dsn) if dsn is not None else None
        self._out = RecaudoProducer(settings, serde) if publish else None
        self._pending: dict[tuple[str, str, str, int], KpiRow] = {}
        self.rows_written = 0
        self.records_published = 0

    def setup(self) -> None:
        if self._db is not None:
            self._db.open()

    def add(
        self,
        value: Any,
        key: Any,
        timestamp: int,
        headers: Any,
        topic: str,
        partition: int,
        offset: int,
    ) -> None:
        for row in value:
            held = self._pending.get(row.ident)
            if held is None or row.revision >= held.revision:
                self._pending[row.ident] = row

    def flush(self) -> None:
        rows = list(self._pending.values())
        if not rows:
            return
        if self._out is not None:
            for row in rows:
                record = to_record(row)
                self._out.produce_raw(
                    self._topic,
                    member_key(row.dimension, row.member).encode(),
                    self._serde.serialize(self._topic, record),
                    ce_headers(record),
                )
            self._out.flush(30)  # raises DeliveryError: the checkpoint fails
            self.records_published += len(rows)
        if self._db is not None:
            self._db.write(write_kpis, rows)
        self.rows_written += len(rows)
        self._pending.clear()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            # Dropped now, not at garbage collection: a lingering client keeps
            # reconnecting to a broker that may be gone.
            self._out = None
        if self._db is not None:
            self._db.close()


class KpiProcessor:
    """The KPI processor: build once, then :meth:`run` (blocking) or :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        *,
        publish: bool = True,
        group: str | None = None,
        commit_interval: float = 5.0,
        on_processed: Callable[[str, int, int], None] | None = None,
        read: Reader | None = None,
    ) -> None:
        """``read``: how an inbound message's intent is read (by default the
        conversation's model when conversations are on, else none)."""
        self.running = False
        self.processor = StreamProcessor(
            settings, NAME, group=group, commit_interval=commit_interval, on_processed=on_processed
        )
        dsn = settings.database_dsn() if settings.database_url is not None else None
        self.sink = KpiSink(settings, self.processor.serde, publish=publish, dsn=dsn)
        app = self.processor.app
        frames = [app.dataframe(self.processor.topic(key)) for key in INPUTS]
        sdf = frames[0]
        for other in frames[1:]:
            sdf = sdf.concat(other)
        if read is None and settings.conversations:
            read = read_intent
        per_member = sdf.apply(partial(attribute, read=read), stateful=True, expand=True).group_by(
            lambda c: member_key(c["d"], c["m"]), name="kpi-member"
        )
        per_member.apply(add_up, stateful=True).filter(bool).sink(self.sink)

    def run(self) -> None:
        self.running = True
        try:
            self.processor.run()
        finally:
            self.running = False
            self.sink.close()

    def stop(self) -> None:
        self.processor.stop()

    def metrics(self) -> dict[str, float]:
        return {
            "recaudo_kpi_rows_written_total": float(self.sink.rows_written),
            "recaudo_kpi_records_published_total": float(self.sink.records_published),
            "recaudo_kpi_dead_letters_total": float(self.processor.dead_letters.written),
        }
