"""``recaudo inbound-email run``: an SMTP server (aiosmtpd) that takes
debtors' replies to collection emails and puts them on channel-responses.

Each email is answered only once its outcome is safe: 250 after its response
is acknowledged by the broker (keyed by debtor_id) and its Message-ID is
remembered; 451 (the sending server tries again later) if the broker or
Postgres cannot take it now. The same email delivered again within
``webhooks_replay_window_s`` is answered 250 and recorded once (the
``webhook_deliveries`` table the webhook service uses, so replicas and
restarts agree).

An email that answers no dispatch, or is not a readable message, is logged
(its Message-ID, never an address or its text), its raw bytes go to the
dead-letter topic with the reason, and it is answered 250: kept, not bounced.
One too large for a dead letter is refused with 552 instead, so its sender
keeps it. Messages over ``inbound_email_max_bytes`` are refused with 552
during DATA.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Protocol

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from confluent_kafka import Producer

from connectors.inbound_email.reply import (
    ORIGIN,
    SOURCE,
    UnreadableEmail,
    Unthreadable,
    email_dead_letter,
    read_email,
    reply_response,
    thread_of,
)
from connectors.inbound_email.threads import thread_key
from connectors.webhooks.app import FORGET_EVERY, Deliveries
from connectors.webhooks.sink import ResponseSink
from connectors.webhooks.store import CorrelationStore
from recaudo.contracts.records import ChannelResponse, DeadLetter, DeadLetterErrorType
from recaudo.embedded.ports import free_port
from recaudo.kafka.cloudevents import ce_headers
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings

log = logging.getLogger(__name__)

#: Largest raw email a dead letter carries: Kafka's default record limit is 1 MB.
DEAD_LETTER_MAX_BYTES = 900_000
PROVIDER = "smtp-inbound"
Publish = Callable[[Sequence[ChannelResponse]], bool]


class DeadLetters(Protocol):
    def __call__(self, letter: DeadLetter) -> bool: ...


@dataclass
class InboundEmails:
    """What happens to one received email, apart from SMTP and Kafka."""

    settings: Settings
    publish: Publish
    dead_letter: DeadLetters
    deliveries: Deliveries
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    counts: Counter[str] = field(default_factory=Counter)
    _forgotten_at: datetime | None = field(default=None, init=False, repr=False)

    @cached_property
    def _key(self) -> bytes:
        return thread_key(self.settings)

    def receive(self, raw: bytes, envelope_recipients: Sequence[str]) -> str:
        """The SMTP answer to the email ``raw``."""
        now = self.clock()
        try:
            email = read_email(raw, envelope_recipients)
        except UnreadableEmail as exc:
            return self._give_up(raw, None, f"unreadable email: {exc}", "DECODE_ERROR", now)
        try:
            thread = thread_of(email, self._key)
        except Unthreadable as exc:
            return self._give_up(raw, email.message_id, str(exc), "PROCESSING_ERROR", now)
        delivery = f"email:{email.message_id}"
        window = timedelta(seconds=self.settings.webhooks_replay_window_s)
        if self.deliveries.seen_deliveries({delivery}, now - window):
            self.counts["replayed"] += 1
            log.info("inbound email %s: already recorded", email.message_id)
            return "250 2.0.0 Already received"
        response = reply_response(
            thread, email.message_id, email.text, provider=PROVIDER, source=SOURCE, at=now
        )
        if not self.publish([response]):
            self.counts["publish_failed"] += 1
            return "451 4.3.0 Cannot record the message now, try again later"
        self.deliveries.record_deliveries({delivery}, now)
        self._forget_expired(now, window)
        self.counts["produced"] += 1
        log.info(
            "inbound email %s: %s dispatch %s",
            email.message_id,
            response.status,
            response.dispatch_id,
        )
        return "250 2.0.0 OK"

    def _forget_expired(self, now: datetime, window: timedelta) -> None:
        """Delete remembered deliveries older than the window, now and then
        (the webhook service does the same for the table they share)."""
        if self._forgotten_at is not None and now - self._forgotten_at < FORGET_EVERY:
            return
        self._forgotten_at = now
        self.deliveries.forget_deliveries(now - window)

    def _give_up(
        self,
        raw: bytes,
        message_id: str | None,
        reason: str,
        error_type: DeadLetterErrorType,
        now: datetime,
    ) -> str:
        self.counts["dead_letters"] += 1
        log.warning("inbound email %s not recorded: %s", message_id or "(no Message-ID)", reason)
        if len(raw) > DEAD_LETTER_MAX_BYTES:
            return "552 5.3.4 Message too large for a reply that names no dispatch"
        letter = email_dead_letter(
            raw, message_id, reason, error_type, now, source=SOURCE, origin=ORIGIN
        )
        if not self.dead_letter(letter):
            return "451 4.3.0 Cannot keep the message now, try again later"
        return "250 2.0.0 Accepted"


class _Handler:
    def __init__(self, emails: InboundEmails) -> None:
        self._emails = emails

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if raw is None:
            return "554 5.6.0 No message"
        rcpts = list(envelope.rcpt_tos)
        loop = asyncio.get_running_loop()
        # Producing waits for the broker: off the SMTP server's event loop.
        return await loop.run_in_executor(None, self._emails.receive, raw, rcpts)


class DeadLetterProducer:
    """Writes a dead letter and waits for the broker to acknowledge it."""

    def __init__(self, settings: Settings, serde: Serde) -> None:
        self._serde = serde
        self._topic = serde.topics.dlq
        self._producer = Producer(settings.producer_config(**{"linger.ms": 0}))
        self._lock = threading.Lock()

    def __call__(self, letter: DeadLetter) -> bool:
        failures: list[Any] = []
        with self._lock:
            self._producer.produce(
                self._topic,
                key=letter.key,
                value=self._serde.serialize(self._topic, letter),
                headers=ce_headers(letter),
                on_delivery=lambda err, _msg: failures.append(err) if err else None,
            )
            remaining = self._producer.flush(30)
        return not remaining and not failures

    def close(self) -> None:
        self._producer.flush(10)


class InboundEmailService:
    """:meth:`start` serves in a thread of its own; :meth:`run` until :meth:`stop`."""

    def __init__(self, settings: Settings, port: int | None = None, host: str | None = None):
        serde = Serde(settings)
        self.settings = settings
        self.store = CorrelationStore(settings.database_dsn(), max_connections=4)
        self.sink = ResponseSink(settings, serde)
        self.dead_letters = DeadLetterProducer(settings, serde)
        self.emails = InboundEmails(settings, self.sink.publish, self.dead_letters, self.store)
        self.host = host or settings.inbound_email_host
        port = settings.inbound_email_port if port is None else port
        #: aiosmtpd checks it is up by connecting to the port: it must be known.
        self.port = port or free_port()
        self._controller = Controller(
            _Handler(self.emails),
            hostname=self.host,
            port=self.port,
            data_size_limit=settings.inbound_email_max_bytes,
            enable_SMTPUTF8=True,
            server_hostname="recaudo-inbound",
        )
        self._stop = threading.Event()
        self._started = False

    def start(self) -> None:
        self._controller.start()
        self._started = True
        log.info("inbound email: SMTP on %s:%d", self.host, self.port)

    def ready(self) -> bool:
        return self._started and self.store.ping()

    def metrics(self) -> dict[str, float]:
        counts = self.emails.counts
        return {
            f"recaudo_inbound_email_{name}_total": float(counts[name])
            for name in ("produced", "replayed", "dead_letters", "publish_failed")
        }

    def run(self) -> None:
        self.start()
        try:
            self._stop.wait()
        finally:
            self.close()

    def stop(self) -> None:
        """Safe from any thread and from a signal handler."""
        self._stop.set()

    def close(self) -> None:
        if self._started:
            self._controller.stop()
            self._started = False
        self.sink.close()
        self.dead_letters.close()
        self.store.close()
