"""A channel connector: consumes ``dispatch.<channel>``, sends through one
provider adapter, and reports every outcome on ``channel-responses``.

Delivery is at-least-once with exactly-once effects:

* a batch's offsets are committed only after its outcomes are acknowledged by
  the brokers, so a crash re-delivers rather than loses;
* a redelivered command whose outcome is in the sent-ledger is answered from
  the ledger without calling the provider again;
* ``dispatch_id`` is passed to the provider as its idempotency key, which
  covers a crash between sending and recording, and a command that moved to
  another replica.

A command past ``expires_at`` is reported EXPIRED and never sent. Transient
provider errors are retried with exponential backoff and jitter; permanent
ones become FAILED (BOUNCED for a rejected address).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Message, Producer
from opentelemetry.trace import SpanKind

from connectors.ledger import LedgerEntry, SentLedger
from connectors.providers.base import (
    OutboundMessage,
    PermanentProviderError,
    ProviderAdapter,
    SendResult,
    TransientProviderError,
)
from connectors.rate_limit import TokenBucket
from connectors.retry import RetryPolicy
from recaudo import telemetry
from recaudo.cloudevents import ce_headers
from recaudo.dlq import DeadLetterWriter
from recaudo.events import Channel, ChannelResponse, DispatchCommand, ResponseStatus
from recaudo.serde import DeadLetterError, Serde
from recaudo.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


RESPONSE_NAMESPACE = uuid.UUID("8f0d8f7e-2b8c-4b7a-9a53-1c7f3f0b6a21")


def response_id(dispatch_id: str, status: str, *extra: str) -> uuid.UUID:
    return uuid.uuid5(RESPONSE_NAMESPACE, "/".join((dispatch_id, status, *extra)))


@dataclass
class ConnectorStats:
    consumed: int = 0
    sent: int = 0
    from_ledger: int = 0
    expired: int = 0
    failed: int = 0
    retries: int = 0
    dead_letters: int = 0
    follow_ups: int = 0
    batches: int = 0
    last_batch_at: float = field(default=0.0)


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    channel: Channel
    #: Sends per second to the provider; None: no limit.
    rate_limit: float | None = None
    burst: float | None = None
    concurrency: int = 64
    batch_size: int = 500
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Longest wait for a command's not_before before sending it anyway.
    max_hold_s: float = 300.0


def _outbound(cmd: DispatchCommand) -> OutboundMessage:
    return OutboundMessage(
        dispatch_id=cmd.dispatch_id,
        channel=cmd.channel,
        address=cmd.address,
        subject=cmd.subject,
        body=cmd.body or "",
        locale=cmd.locale,
        template=cmd.template,
        variables=dict(cmd.variables),
        debtor_id=cmd.debtor_id,
    )


class Connector:
    """One replica of one channel's connector. :meth:`run` blocks until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        config: ConnectorConfig,
        adapter: ProviderAdapter,
        *,
        ledger_path: Path | None = None,
        clock: Clock = wall_clock,
        seed: int | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.adapter = adapter
        self.serde = Serde(settings)
        self.topics = self.serde.topics
        self.topic = self.topics.dispatch(config.channel)
        self.group = f"{settings.topic_prefix}.connector.{config.channel}"
        self.clock = clock
        self.stats = ConnectorStats()
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._limiter = TokenBucket(config.rate_limit, config.burst) if config.rate_limit else None
        self._ledger = SentLedger(
            ledger_path
            or settings.state_dir / "connectors" / f"{config.channel}-{adapter.name}.sqlite"
        )
        self._consumer = Consumer(
            settings.consumer_config(self.group, **{"enable.auto.offset.store": False})
        )
        self._producer = Producer(settings.producer_config())
        self._dead_letters = DeadLetterWriter(
            settings, self.serde, f"recaudo.connector.{config.channel}", self.group
        )
        self._tracer = telemetry.tracer()
        self._ready = threading.Event()

    # --- lifecycle -----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once partitions are assigned (the consumer joined its group)."""
        return self._ready.is_set()

    def run(self) -> None:
        self._consumer.subscribe([self.topic], on_assign=lambda _c, _p: self._ready.set())
        log.info("connector %s/%s consuming %s", self.config.channel, self.adapter.name, self.topic)
        loop = asyncio.new_event_loop()
        try:
            while not self._stop.is_set():
                messages = self._consumer.consume(self.config.batch_size, timeout=0.2)
                if messages:
                    loop.run_until_complete(self._handle_batch(messages))
                self._emit_follow_ups()
        finally:
            loop.run_until_complete(self.adapter.aclose())
            loop.close()
            self._consumer.close()
            self._producer.flush(10)
            self._dead_letters.close()
            self._ledger.close()

    def stop(self) -> None:
        self._stop.set()

    def metrics(self) -> dict[str, float]:
        labels = f'{{channel="{self.config.channel}",provider="{self.adapter.name}"}}'
        return {
            f"recaudo_connector_{name}_total{labels}": float(value)
            for name, value in vars(self.stats).items()
            if name != "last_batch_at"
        }

    # --- one batch ------------------------------------------------------------------

    async def _handle_batch(self, messages: list[Message]) -> None:
        commands: list[tuple[Message, DispatchCommand]] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            self.stats.consumed += 1
            try:
                event = self.serde.deserialize(self.topic, msg.value())
            except DeadLetterError as exc:
                self._dead_letters.send(msg, exc)
                self.stats.dead_letters += 1
                continue
            assert isinstance(event, DispatchCommand)
            commands.append((msg, event))

        semaphore = asyncio.Semaphore(self.config.concurrency)

        async def bounded(cmd: DispatchCommand) -> tuple[LedgerEntry, bool]:
            async with semaphore:
                return await self._deliver(cmd)

        # The same dispatch twice in one batch (a replay) is delivered once.
        unique: dict[str, tuple[Message, DispatchCommand]] = {}
        for msg, cmd in commands:
            unique.setdefault(cmd.dispatch_id, (msg, cmd))
        self.stats.from_ledger += len(commands) - len(unique)
        results = await asyncio.gather(*(bounded(cmd) for _, cmd in unique.values()))
        self._ledger.record_many([entry for entry, fresh in results if fresh])
        failures: list[str] = []
        for (msg, cmd), (entry, _) in zip(unique.values(), results, strict=True):
            self._emit(msg, cmd, entry, failures)
        remaining = self._producer.flush(30)
        if remaining or failures:
            # Not committing is what keeps the batch: it will be redelivered
            # and answered from the ledger.
            raise RuntimeError(f"channel responses not acknowledged: {failures[:3] or remaining}")
        for msg in messages:
            if msg.error() is None:
                self._consumer.store_offsets(msg)
        self._consumer.commit(asynchronous=False)
        self.stats.batches += 1
        self.stats.last_batch_at = time.time()

    async def _deliver(self, cmd: DispatchCommand) -> tuple[LedgerEntry, bool]:
        """The command's outcome, and whether it is new (not from the ledger)."""
        known = self._ledger.get(cmd.dispatch_id)
        if known is not None:
            self.stats.from_ledger += 1
            return known, False
        now = self.clock()
        if cmd.expires_at <= now:
            self.stats.expired += 1
            return LedgerEntry(
                cmd.dispatch_id,
                "EXPIRED",
                None,
                "EXPIRED",
                f"expired at {cmd.expires_at.isoformat()}",
            ), True
        hold = (cmd.not_before - now).total_seconds()
        if hold > 0:
            await asyncio.sleep(min(hold, self.config.max_hold_s))
        result = await self._send_with_retries(cmd)
        if result.status in ("FAILED", "BOUNCED"):
            self.stats.failed += 1
        else:
            self.stats.sent += 1
        entry = LedgerEntry(
            cmd.dispatch_id,
            result.status,
            result.provider_message_id,
            result.error_code,
            result.error_message,
        )
        return entry, True

    async def _send_with_retries(self, cmd: DispatchCommand) -> SendResult:
        message = _outbound(cmd)
        attempt = 0
        while True:
            attempt += 1
            if self._limiter is not None:
                await self._limiter.acquire()
            try:
                return await self.adapter.send(message)
            except PermanentProviderError as exc:
                return SendResult(
                    status="BOUNCED" if exc.bounced else "FAILED",
                    provider_message_id=None,
                    error_code=exc.code,
                    error_message=str(exc),
                    permanent=True,
                )
            except TransientProviderError as exc:
                if not self.config.retry.should_retry(attempt):
                    return SendResult(
                        status="FAILED",
                        provider_message_id=None,
                        error_code=exc.code or "TRANSIENT_EXHAUSTED",
                        error_message=f"gave up after {attempt} attempts: {exc}",
                        permanent=False,
                    )
                self.stats.retries += 1
                await asyncio.sleep(self.config.retry.delay(attempt, self._rng, exc.retry_after_s))

    def _emit_follow_ups(self) -> None:
        """Delivery receipts, reads, replies and call outcomes that arrive after
        the send (the simulator reports them here; real providers call the
        webhook service instead)."""
        due = getattr(self.adapter, "due", None)
        if due is None:
            return
        topic = self.topics.channel_responses
        for item in due(self.clock()):
            response = ChannelResponse(
                event_id=response_id(item.dispatch_id, item.status, str(item.seq)),
                occurred_at=item.at,
                source=f"connector.{item.channel}.{self.adapter.name}",
                debtor_id=item.debtor_id,
                dispatch_id=item.dispatch_id,
                channel=item.channel,
                status=item.status,
                provider=self.adapter.name,
                provider_message_id=item.provider_message_id,
                text=item.text,
            )
            self._producer.produce(
                topic,
                key=item.debtor_id.encode(),
                value=self.serde.serialize(topic, response),
                headers=ce_headers(response),
            )
            self.stats.follow_ups += 1
        self._producer.poll(0)

    def _emit(
        self, msg: Message, cmd: DispatchCommand, entry: LedgerEntry, failures: list[str]
    ) -> None:
        status: ResponseStatus = entry.status  # type: ignore[assignment]
        response = ChannelResponse(
            # Deterministic: an outcome emitted again after a redelivery is the
            # same event, which every consumer de-duplicates.
            event_id=response_id(cmd.dispatch_id, entry.status),
            occurred_at=self.clock(),
            source=f"connector.{cmd.channel}.{self.adapter.name}",
            debtor_id=cmd.debtor_id,
            dispatch_id=cmd.dispatch_id,
            channel=cmd.channel,
            status=status,
            provider=self.adapter.name,
            provider_message_id=entry.provider_message_id,
            error_code=entry.error_code,
            error_message=entry.error_message,
        )
        parent = telemetry.extract(msg.headers())
        topic = self.topics.channel_responses
        with self._tracer.start_as_current_span(
            f"send {self.topic}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": self.topic,
                "messaging.consumer.group.name": self.group,
                "recaudo.dispatch_id": cmd.dispatch_id,
                "recaudo.channel": cmd.channel,
                "recaudo.outcome": entry.status,
            },
        ):
            headers = ce_headers(response)
            telemetry.inject(headers)
            self._producer.produce(
                topic,
                key=cmd.debtor_id.encode(),
                value=self.serde.serialize(topic, response),
                headers=headers,
                on_delivery=lambda err, _m: failures.append(err.str()) if err else None,
            )
        self._producer.poll(0)
