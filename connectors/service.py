"""A channel connector: consumes ``dispatch.<channel>``, sends through one
provider adapter, and reports every outcome on ``channel-responses``.

Commands are consumed at least once; the provider is called at most once per
dispatch, whatever the crash:

* a batch's offsets are committed only after its outcomes are acknowledged by
  the brokers, so a crash re-delivers rather than loses;
* before a dispatch's first call to the provider its intent is committed to
  the sent-ledger, and its outcome as soon as the provider answers (per
  message, not once per batch; the sends in progress share each commit);
* at most as many sends are in progress as the provider takes at once
  (``max_calls``), which bounds what a crash can leave unresolved;
* a redelivered command whose outcome is in the ledger is answered from it
  without calling the provider;
* one whose intent is there without an outcome (the process died while the
  provider had it) is reconciled: the provider is asked where its adapter can
  (``lookup``), and sent only if the provider never received it; otherwise
  it is reported ``OUTCOME_UNKNOWN`` and never sent again;
* ``dispatch_id`` is also the provider's idempotency key, for providers that
  honour one.

A command past ``expires_at`` is reported EXPIRED and never sent. Transient
provider errors are retried with exponential backoff and jitter, but only
where calling again cannot send the message twice (``connectors.retry``):
the request never reached the provider, or the provider drops a repeated
key. After a timeout or a dropped connection with the request written, the
provider is asked where it can be, and otherwise the dispatch is reported
``OUTCOME_UNKNOWN`` without another call. Permanent errors become FAILED
(BOUNCED for a rejected address).

Each command's trace goes on (W3C context in the headers): a ``process``
span for the command, a span per call to the provider under it, and a
``send`` span for the response it caused, whose context the response carries,
and so do the simulator's later follow-ups. When traces are not exported the
incoming context is copied onto the responses as it came.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from connectors.hold import hold_until
from connectors.providers.base import (
    Lookup,
    OutboundMessage,
    PermanentProviderError,
    ProviderAdapter,
    ProviderError,
    SendResult,
    TransientProviderError,
    deduplicates,
    lookup_of,
)
from connectors.rate_limit import TokenBucket
from connectors.retry import RetryPolicy, Unknown, ask_with_retries, send_with_retries
from connectors.sent_ledger import LedgerEntry, LedgerWriter, SentLedger, Synchronous
from recaudo.contracts.records import Channel, ChannelResponse, DispatchCommand, ResponseStatus
from recaudo.kafka.batch_consumer import BatchConsumer
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.serde import DeadLetterError, Serde
from recaudo.observability import telemetry
from recaudo.observability.instruments import provider_send_duration
from recaudo.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


RESPONSE_NAMESPACE = uuid.UUID("8f0d8f7e-2b8c-4b7a-9a53-1c7f3f0b6a21")
#: Dispatches whose trace a later follow-up can still continue (oldest forgotten first).
TRACES_KEPT = 50_000


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
    #: Sends a previous run started and never saw answered: asked of the
    #: provider, or reported OUTCOME_UNKNOWN.
    looked_up: int = 0
    unknown_outcomes: int = 0
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


class Connector(BatchConsumer[DispatchCommand]):
    """One replica of one channel's connector. :meth:`run` blocks until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        config: ConnectorConfig,
        adapter: ProviderAdapter,
        *,
        ledger_path: Path | None = None,
        ledger_synchronous: Synchronous | None = None,
        clock: Clock = wall_clock,
        clock_speed: float = 1.0,
        seed: int | None = None,
        traced: bool | None = None,
    ) -> None:
        """``traced`` records spans (default: when traces are exported);
        ``clock_speed`` is how many of ``clock``'s seconds pass per real one
        (a scaled simulation clock), so holding a command until its
        ``not_before`` takes the right real time; ``ledger_synchronous``
        overrides ``settings.connector_ledger_sync``."""
        serde = Serde(settings)
        super().__init__(
            settings,
            topics=[serde.topics.dispatch(config.channel)],
            group=f"{settings.topic_prefix}.connector.{config.channel}",
            source=f"recaudo.connector.{config.channel}",
            serde=serde,
            batch_size=config.batch_size,
            poll_s=0.2,
            low_latency=True,
        )
        self.config = config
        self.adapter = adapter
        self.catalogue = serde.topics
        self.topic = self.catalogue.dispatch(config.channel)
        self.clock = clock
        self.clock_speed = clock_speed
        self.stats = ConnectorStats()
        self._rng = random.Random(seed)
        self._limiter = TokenBucket(config.rate_limit, config.burst) if config.rate_limit else None
        self._ledger = SentLedger(
            ledger_path
            or settings.state_dir / "connectors" / f"{config.channel}-{adapter.name}.sqlite",
            ledger_synchronous or settings.connector_ledger_sync,
        )
        self._writes = LedgerWriter(self._ledger)
        self._lookup = lookup_of(adapter)
        self._deduplicates = deduplicates(adapter)
        # Calls begun (intent recorded) at once, no more than the provider can
        # take at once: a crash leaves at most that many outcomes unknown.
        calls = getattr(adapter, "max_calls", None) or config.concurrency
        self._calls = asyncio.Semaphore(min(calls, config.concurrency))
        self._producer = Producer(settings.producer_config())
        self._tracer = telemetry.tracer()
        self._traced = telemetry.tracing(settings) if traced is None else traced
        self._send_duration = provider_send_duration()
        # What a dispatch's follow-ups continue: the span that handled it
        # (traced) or the trace headers it came with.
        self._traces: OrderedDict[str, Context | list[tuple[str, bytes]]] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle -----------------------------------------------------------------

    def open(self) -> None:
        self.log.info(
            "connector %s/%s consuming %s", self.config.channel, self.adapter.name, self.topic
        )
        self._loop = asyncio.new_event_loop()

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run_until_complete(self.adapter.aclose())
            self._loop.close()
        self._producer.flush(10)
        self._ledger.close()

    def idle(self) -> None:
        self._emit_follow_ups()

    def record_type(self) -> type[DispatchCommand]:
        return DispatchCommand

    def decode(self, message: Message) -> DispatchCommand:
        self.stats.consumed += 1
        try:
            return super().decode(message)
        except DeadLetterError:
            self.stats.dead_letters += 1
            raise

    def handle(self, batch: list[tuple[DispatchCommand, Message]]) -> None:
        assert self._loop is not None, "handle runs inside run()"
        self._loop.run_until_complete(self._handle_batch(batch))

    def metrics(self) -> dict[str, float]:
        labels = f'{{channel="{self.config.channel}",provider="{self.adapter.name}"}}'
        return {
            f"recaudo_connector_{name}_total{labels}": float(value)
            for name, value in vars(self.stats).items()
            if name != "last_batch_at"
        }

    # --- one batch ------------------------------------------------------------------

    async def _handle_batch(self, commands: list[tuple[DispatchCommand, Message]]) -> None:
        semaphore = asyncio.Semaphore(self.config.concurrency)

        async def bounded(cmd: DispatchCommand, span: Span | None) -> tuple[LedgerEntry, bool]:
            async with semaphore:
                if span is None:
                    return await self._deliver(cmd)
                # Each gathered coroutine runs in its own task and context:
                # the provider spans below nest under this command's span.
                with trace.use_span(span, end_on_exit=False):
                    return await self._deliver(cmd)

        # The same dispatch twice in one batch (a replay) is delivered once.
        unique: dict[str, tuple[Message, DispatchCommand]] = {}
        for cmd, msg in commands:
            unique.setdefault(cmd.dispatch_id, (msg, cmd))
        self.stats.from_ledger += len(commands) - len(unique)
        spans = [self._process_span(msg, cmd) for msg, cmd in unique.values()]
        results = await asyncio.gather(
            *(bounded(cmd, span) for (_, cmd), span in zip(unique.values(), spans, strict=True))
        )
        failures: list[str] = []
        for (msg, cmd), (entry, _), span in zip(unique.values(), results, spans, strict=True):
            self._emit(msg, cmd, entry, failures, span)
        remaining = self._producer.flush(30)
        if remaining or failures:
            # Not committing is what keeps the batch: it will be redelivered
            # and answered from the ledger, where each outcome already is.
            raise RuntimeError(f"channel responses not acknowledged: {failures[:3] or remaining}")
        # Committed next by the loop; should this member's assignment be gone
        # by then, the batch redelivered is answered from the ledger.
        self.stats.batches += 1
        self.stats.last_batch_at = time.time()

    async def _deliver(self, cmd: DispatchCommand) -> tuple[LedgerEntry, bool]:
        """The command's outcome, and whether it is new (not from the ledger).
        Every new outcome is in the ledger when this returns."""
        known = self._ledger.get(cmd.dispatch_id)
        if known is not None and not known.is_intent:
            self.stats.from_ledger += 1
            return known, False
        if known is not None:
            settled = await self._reconcile(cmd)
            if settled is not None:
                await self._writes.record(settled)
                return settled, True
        now = self.clock()
        if cmd.expires_at <= now:
            self.stats.expired += 1
            entry = LedgerEntry(
                cmd.dispatch_id,
                "EXPIRED",
                None,
                "EXPIRED",
                f"expired at {cmd.expires_at.isoformat()}",
            )
            await self._writes.record(entry)
            return entry, True
        await hold_until(
            cmd.not_before, self.clock, speed=self.clock_speed, max_hold_s=self.config.max_hold_s
        )
        async with self._calls:
            if self._limiter is not None:
                await self._limiter.acquire()
            # The intent is committed only now, right before the call: a crash
            # while a command waits (not_before, rate limit, a free connection)
            # leaves nothing to reconcile.
            if known is None and not await self._writes.begin(cmd.dispatch_id):
                # Another replica sharing this ledger took the dispatch meanwhile.
                taken = self._ledger.get(cmd.dispatch_id)
                if taken is not None and not taken.is_intent:
                    self.stats.from_ledger += 1
                    return taken, False
                why = "another connector sharing the ledger is sending it"
                return self._unknown(cmd, self._stopped(why)), True
            result = await self._send_with_retries(cmd)
            # The slot is held until the outcome is committed, so a crash leaves
            # at most as many intents unanswered as calls can be in progress.
            if isinstance(result, Unknown):
                message = f"{self.adapter.name} may have it; {result.reason}"
                return await self._record(self._unknown(cmd, message, result.code)), True
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
            return await self._record(entry), True

    async def _record(self, entry: LedgerEntry) -> LedgerEntry:
        await self._writes.record(entry)
        return entry

    async def _reconcile(self, cmd: DispatchCommand) -> LedgerEntry | None:
        """The outcome of a send an earlier run started and never saw answered:
        the provider's answer where it can be asked; None when the provider
        says it never received it (it is sent now, for the first time);
        otherwise OUTCOME_UNKNOWN, and it is never sent again."""
        if self._lookup is None:
            why = f"{self.adapter.name} cannot be asked whether it has it"
            return self._unknown(cmd, self._stopped(why))
        self.stats.looked_up += 1
        try:
            found = await self._lookup_with_retries(self._lookup, _outbound(cmd))
        except ProviderError as exc:
            why = f"{self.adapter.name} could not say whether it has it: {exc}"
            return self._unknown(cmd, self._stopped(why))
        if found is None:
            log.info(
                "dispatch %s: %s never received it; sending it", cmd.dispatch_id, self.adapter.name
            )
            return None
        if found.status in ("FAILED", "BOUNCED"):
            self.stats.failed += 1
        else:
            self.stats.sent += 1
        return LedgerEntry(
            cmd.dispatch_id,
            found.status,
            found.provider_message_id,
            found.error_code,
            found.error_message,
        )

    def _stopped(self, why: str) -> str:
        return f"handed to {self.adapter.name} by a run that stopped before its answer; {why}"

    def _unknown(self, cmd: DispatchCommand, message: str, code: str | None = None) -> LedgerEntry:
        self.stats.unknown_outcomes += 1
        log.warning(
            "dispatch %s: %s. Reported OUTCOME_UNKNOWN and not sent again: "
            "look it up in the provider's own console or logs",
            cmd.dispatch_id,
            message,
        )
        return LedgerEntry(
            cmd.dispatch_id, "OUTCOME_UNKNOWN", None, code or "OUTCOME_UNKNOWN", message
        )

    async def _lookup_with_retries(
        self, lookup: Lookup, message: OutboundMessage
    ) -> SendResult | None:
        return await ask_with_retries(
            partial(lookup, message), self.config.retry, self._rng, on_retry=self._retried
        )

    def _retried(self) -> None:
        self.stats.retries += 1

    def _process_span(self, msg: Message, cmd: DispatchCommand) -> Span | None:
        if not self._traced:
            return None
        span = self._tracer.start_span(
            f"process {self.topic}",
            context=telemetry.extract(msg.headers()),
            kind=SpanKind.CONSUMER,
            attributes={
                **telemetry.process_attributes(
                    self.topic,
                    msg.partition() or 0,
                    msg.offset() or 0,
                    cmd.debtor_id,
                    str(cmd.event_id),
                    self.group,
                ),
                "recaudo.dispatch_id": cmd.dispatch_id,
                "recaudo.channel": cmd.channel,
            },
        )
        return span

    async def _send(self, message: OutboundMessage, attempt: int) -> SendResult:
        """One call to the provider: timed, and a CLIENT span when traced."""
        labels = {"channel": self.config.channel, "provider": self.adapter.name}
        span = (
            self._tracer.start_span(
                f"{self.adapter.name} send",
                kind=SpanKind.CLIENT,
                attributes={
                    "recaudo.provider": self.adapter.name,
                    "recaudo.channel": message.channel,
                    "recaudo.dispatch_id": message.dispatch_id,
                    "recaudo.attempt": attempt,
                },
            )
            if self._traced
            else None
        )
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self.adapter.send(message)
            outcome = result.status
            return result
        except PermanentProviderError as exc:
            outcome = "bounced" if exc.bounced else "refused"
            raise
        except TransientProviderError:
            outcome = "transient_error"
            raise
        finally:
            self._send_duration.record(
                time.perf_counter() - started, {**labels, "outcome": outcome}
            )
            if span is not None:
                span.set_attribute("recaudo.outcome", outcome)
                if outcome not in ("ACCEPTED", "SENT"):
                    span.set_status(Status(StatusCode.ERROR, outcome))
                span.end()

    async def _send_with_retries(self, cmd: DispatchCommand) -> SendResult | Unknown:
        """The provider's answer, called again only where that cannot send the
        message twice; :class:`Unknown` when it may have it and cannot say."""
        message = _outbound(cmd)

        async def send(attempt: int) -> SendResult:
            if attempt > 1 and self._limiter is not None:
                await self._limiter.acquire()
            return await self._send(message, attempt)

        lookup = self._lookup
        return await send_with_retries(
            send,
            self.config.retry,
            self._rng,
            deduplicates=self._deduplicates,
            ask=None if lookup is None else partial(lookup, message),
            on_retry=self._retried,
        )

    def _emit_follow_ups(self) -> None:
        """Delivery receipts, reads, replies and call outcomes that arrive after
        the send (the simulator reports them here; real providers call the
        webhook service instead)."""
        due = getattr(self.adapter, "due", None)
        if due is None:
            return
        topic = self.catalogue.channel_responses
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
            headers = ce_headers(response)
            span = self._trace_response(headers, self._traces.get(item.dispatch_id), response)
            self._producer.produce(
                topic,
                key=item.debtor_id.encode(),
                value=self.serde.serialize(topic, response),
                headers=headers,
                on_delivery=None if span is None else partial(telemetry.sent, span),
            )
            self.stats.follow_ups += 1
        self._producer.poll(0)

    def _trace_response(
        self,
        headers: list[tuple[str, bytes]],
        cause: Context | list[tuple[str, bytes]] | None,
        response: ChannelResponse,
    ) -> Span | None:
        """Put the trace of what caused ``response`` on its headers: a ``send``
        span under ``cause`` (returned, for the delivery report to end), or the
        cause's own trace headers."""
        if cause is None:
            return None
        if isinstance(cause, list):
            headers.extend(cause)
            return None
        topic = self.catalogue.channel_responses
        span = telemetry.start_send(
            self._tracer, topic, response.debtor_id, str(response.event_id), cause
        )
        telemetry.inject(headers, telemetry.context_of(span))
        return span

    def _remember_trace(self, dispatch_id: str, cause: Context | list[tuple[str, bytes]]) -> None:
        if getattr(self.adapter, "due", None) is None or cause == []:
            return  # no follow-ups will come from this adapter, or no trace to continue
        self._traces[dispatch_id] = cause
        self._traces.move_to_end(dispatch_id)
        while len(self._traces) > TRACES_KEPT:
            self._traces.popitem(last=False)

    def _emit(
        self,
        msg: Message,
        cmd: DispatchCommand,
        entry: LedgerEntry,
        failures: list[str],
        span: Span | None = None,
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
        topic = self.catalogue.channel_responses
        cause: Context | list[tuple[str, bytes]]
        if span is None:
            cause = telemetry.trace_headers(msg.headers())
        else:
            span.set_attribute("recaudo.outcome", entry.status)
            cause = telemetry.context_of(span)
        headers = ce_headers(response)
        send_span = self._trace_response(headers, cause, response)

        def delivered(err: KafkaError | None, sent: Message) -> None:
            if err is not None:
                failures.append(err.str())
            if send_span is not None:
                telemetry.sent(send_span, err, sent)

        self._producer.produce(
            topic,
            key=cmd.debtor_id.encode(),
            value=self.serde.serialize(topic, response),
            headers=headers,
            on_delivery=delivered,
        )
        if span is not None:
            span.end()
        if entry.status not in ("EXPIRED", "FAILED", "BOUNCED", "OUTCOME_UNKNOWN"):
            self._remember_trace(cmd.dispatch_id, cause)
        self._producer.poll(0)
