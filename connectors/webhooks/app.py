"""The webhook service's request handling, apart from any HTTP server.

Routes:

* ``POST /twilio/status``: message and call status callbacks (form-encoded);
* ``POST /twilio/inbound``: inbound SMS (replies, STOP);
* ``GET /meta/whatsapp``: Meta's subscription check (``hub.challenge``);
* ``POST /meta/whatsapp``: WhatsApp statuses and inbound messages (JSON);
* ``POST /mailgun/inbound``: email replies from a Mailgun inbound route
  (``connectors.inbound_email.mailgun``), threaded by the reply token of the
  email they answer; one that answers no dispatch is dead-lettered with the
  POST's bytes and answered 200.

Every POST is verified first (``X-Twilio-Signature``, ``X-Hub-Signature-256``,
Mailgun's ``signature`` field)
and answered 401 if the signature is missing or wrong, before anything in it is
read. A callback becomes a channel response once the dispatch and debtor it
belongs to are known: named in the callback itself, or found in the
correlation store. A status whose message is not known yet is answered 503 so
the provider delivers it again (the projection is usually seconds behind); an
inbound message from an address never contacted is counted and dropped.

A callback recorded once is not recorded again: each one's delivery key (the
provider's message id and status) is remembered for the replay window, and a
repeat within it is answered 200 with nothing produced. A callback whose
signed timestamp (Meta signs the whole body, timestamps included; Mailgun
signs its ``timestamp``) is older
than the window is refused 403: the provider's own retries stop well before
it, so only a replay can be that old. Twilio signs no timestamp; its
callbacks are recognised by their message id for the window.

Nothing here logs a phone number, an email address or a message's text.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import parse_qs

from connectors.inbound_email import mailgun
from connectors.inbound_email.reply import email_dead_letter
from connectors.inbound_email.threads import find_thread, thread_key
from connectors.service import response_id
from connectors.webhooks import mapping, signatures
from connectors.webhooks.mapping import Observation
from connectors.webhooks.store import Correlation
from recaudo.contracts.records import Channel, ChannelResponse, DeadLetter
from recaudo.settings import Settings

log = logging.getLogger(__name__)

#: Bodies larger than this are refused: provider callbacks are a few KiB.
MAX_BODY_BYTES = 1 << 20


class Resolver(Protocol):
    def by_message(self, provider_message_id: str) -> Correlation | None: ...

    def by_address(self, channel: Channel, address: str) -> Correlation | None: ...


class Deliveries(Protocol):
    """Where the delivery keys of recorded callbacks are remembered."""

    def seen_deliveries(self, keys: Collection[str], since: datetime) -> set[str]: ...

    def record_deliveries(self, keys: Collection[str], at: datetime) -> None: ...

    def forget_deliveries(self, before: datetime) -> int: ...


Publish = Callable[[Sequence[ChannelResponse]], bool]
#: Writes a dead letter; True once the broker has it.
DeadLetters = Callable[[DeadLetter], bool]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: str
    #: Header names lower-cased.
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


def _text(status: int, text: str) -> Reply:
    return Reply(status, (text + "\n").encode())


#: Twilio reads TwiML from a reply to an inbound message: an empty Response
#: sends nothing back to the debtor.
EMPTY_TWIML = Reply(200, b'<?xml version="1.0" encoding="UTF-8"?><Response/>', "text/xml")

#: How often the delivery keys older than the replay window are deleted.
FORGET_EVERY = timedelta(minutes=10)


@dataclass
class WebhookApp:
    settings: Settings
    resolver: Resolver
    publish: Publish
    clock: Clock = field(default=lambda: datetime.now(UTC))
    counts: Counter[str] = field(default_factory=Counter)
    #: None: no replay protection (a test of the mapping alone).
    deliveries: Deliveries | None = None
    #: Where inbound emails that answer no dispatch go (None: dropped, counted).
    dead_letter: DeadLetters | None = None
    _forgotten_at: datetime | None = field(default=None, init=False, repr=False)

    @property
    def replay_window(self) -> timedelta:
        return timedelta(seconds=self.settings.webhooks_replay_window_s)

    def handle(self, request: Request) -> Reply:
        route = (request.method, request.path.rstrip("/") or "/")
        if len(request.body) > MAX_BODY_BYTES:
            return _text(413, "too large")
        if route == ("POST", "/twilio/status"):
            return self._twilio(request, inbound=False)
        if route == ("POST", "/twilio/inbound"):
            return self._twilio(request, inbound=True)
        if route == ("GET", "/meta/whatsapp"):
            return self._meta_subscribe(request)
        if route == ("POST", "/meta/whatsapp"):
            return self._meta(request)
        if route == ("POST", "/mailgun/inbound"):
            return self._mailgun(request)
        return _text(404, "not found")

    def metrics(self) -> dict[str, float]:
        return {
            f'recaudo_webhooks_{name}_total{{provider="{provider}"}}': float(value)
            for (provider, name), value in (
                (key.split(":", 1), value) for key, value in sorted(self.counts.items())
            )
        }

    def _count(self, provider: str, name: str, n: int = 1) -> None:
        self.counts[f"{provider}:{name}"] += n

    # --- Twilio ------------------------------------------------------------------------

    def _public_url(self, request: Request) -> str:
        """The URL the provider called, as it signed it: behind a TLS proxy the
        service sees its own address, not the public one."""
        base = self.settings.webhooks_public_url
        if not base:
            proto = request.headers.get("x-forwarded-proto", "http")
            host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
            base = f"{proto}://{host}"
        return base.rstrip("/") + request.path + (f"?{request.query}" if request.query else "")

    def _twilio(self, request: Request, *, inbound: bool) -> Reply:
        token = self.settings.twilio_auth_token
        if token is None:
            return _text(404, "twilio is not configured")
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        if not signatures.verify_twilio(
            token.get_secret_value(),
            self._public_url(request),
            form,
            request.headers.get("x-twilio-signature"),
        ):
            self._count("twilio", "rejected")
            log.warning("twilio %s: bad or missing signature", request.path)
            return _text(401, "bad signature")
        self._count("twilio", "received")
        now = self.clock()
        if inbound:
            observation = mapping.twilio_inbound(form, now)
        else:
            observation = mapping.twilio_status(form, parse_qs(request.query), now)
        reply = self._record([observation] if observation else [], "twilio", now)
        if inbound and reply.status == 200:
            return EMPTY_TWIML
        return reply

    # --- Meta --------------------------------------------------------------------------

    def _meta_subscribe(self, request: Request) -> Reply:
        token = self.settings.meta_verify_token
        params = parse_qs(request.query)
        mode = params.get("hub.mode", [""])[0]
        given = params.get("hub.verify_token", [""])[0]
        challenge = params.get("hub.challenge", [""])[0]
        if token is None or mode != "subscribe":
            return _text(403, "forbidden")
        if not signatures.constant_time_equal(given, token.get_secret_value()):
            self._count("meta", "rejected")
            return _text(403, "forbidden")
        return Reply(200, challenge.encode())

    def _meta(self, request: Request) -> Reply:
        secret = self.settings.meta_app_secret
        if secret is None:
            return _text(404, "meta is not configured")
        if not signatures.verify_meta(
            secret.get_secret_value(), request.body, request.headers.get("x-hub-signature-256")
        ):
            self._count("meta", "rejected")
            log.warning("meta %s: bad or missing signature", request.path)
            return _text(401, "bad signature")
        self._count("meta", "received")
        try:
            payload = json.loads(request.body)
        except ValueError:
            return _text(400, "not JSON")
        if not isinstance(payload, dict):
            return _text(400, "not a JSON object")
        now = self.clock()
        return self._record(list(mapping.meta_events(payload, now)), "meta", now)

    # --- Mailgun -----------------------------------------------------------------------

    def _mailgun(self, request: Request) -> Reply:
        key = self.settings.mailgun_signing_key
        if key is None:
            return _text(404, "mailgun is not configured")
        try:
            form = mailgun.parse_form(request.headers.get("content-type", ""), request.body)
        except mailgun.BadForm as exc:
            return _text(400, str(exc))
        if not mailgun.verify(key.get_secret_value(), form):
            self._count("mailgun", "rejected")
            log.warning("mailgun %s: bad or missing signature", request.path)
            return _text(401, "bad signature")
        self._count("mailgun", "received")
        try:
            reply = mailgun.read_reply(form)
        except mailgun.BadForm as exc:
            # Mailgun does not retry a 406: this POST would never be readable.
            return _text(406, str(exc))
        now = self.clock()
        if reply.signed_at < now - self.replay_window:
            self._count("mailgun", "stale")
            return _text(403, "stale callback: its signed timestamp is outside the replay window")
        thread = find_thread(
            reply.in_reply_to, reply.references, reply.recipients, thread_key(self.settings)
        )
        if thread is None:
            return self._unthreadable(request.body, reply.message_id, now)
        observation = Observation(
            "mailgun",
            "inbound",
            "email",
            "OPTED_OUT" if mapping.is_opt_out(reply.text) else "REPLIED",
            reply.message_id,
            reply.signed_at,
            dispatch_id=thread.dispatch_id,
            debtor_id=thread.debtor_id,
            text=reply.text or None,
        )
        return self._record([observation], "mailgun", now)

    def _unthreadable(self, body: bytes, message_id: str, now: datetime) -> Reply:
        self._count("mailgun", "unmatched_inbound")
        reason = (
            f"email {message_id} answers no dispatch: no recaudo reply token in its "
            "In-Reply-To, References or recipient plus-address"
        )
        log.warning("mailgun: %s", reason)
        if self.dead_letter is None:
            return _text(200, "ok")
        letter = email_dead_letter(
            body,
            message_id,
            reason,
            "PROCESSING_ERROR",
            now,
            source="recaudo.webhooks",
            origin="http:mailgun-inbound",
        )
        if not self.dead_letter(letter):
            return _text(503, "try again")
        return _text(200, "ok")

    # --- all ---------------------------------------------------------------------------

    def _resolve(self, observation: Observation) -> Correlation | None:
        if observation.dispatch_id and observation.debtor_id:
            return Correlation(observation.dispatch_id, observation.debtor_id)
        if observation.kind == "status":
            return self.resolver.by_message(observation.message_id)
        if observation.context_id:
            found = self.resolver.by_message(observation.context_id)
            if found is not None:
                return found
        if observation.sender:
            return self.resolver.by_address(observation.channel, observation.sender)
        return None

    def _record(self, observations: Iterable[Observation], provider: str, now: datetime) -> Reply:
        observations = list(observations)
        oldest = now - self.replay_window
        if any(obs.occurred_at < oldest for obs in observations):
            self._count(provider, "stale")
            log.warning("%s: signed timestamp older than the replay window, refused", provider)
            return _text(403, "stale callback: its signed timestamp is outside the replay window")
        fresh = self._unseen(observations, oldest)
        if len(fresh) < len(observations):
            self._count(provider, "replayed", len(observations) - len(fresh))
        responses: list[ChannelResponse] = []
        recorded: set[str] = set()
        unknown_status = False
        for obs in fresh:
            found = self._resolve(obs)
            if found is None:
                if obs.kind == "status":
                    unknown_status = True
                    self._count(provider, "unknown_message")
                else:
                    self._count(provider, "unmatched_inbound")
                continue
            responses.append(self._response(obs, found))
            recorded.add(mapping.delivery_key(obs))
        if responses and not self.publish(responses):
            self._count(provider, "publish_failed")
            return _text(503, "try again")
        # Remembered only once on the topic: a callback that failed here must
        # be taken again when the provider retries it.
        if self.deliveries is not None and recorded:
            self.deliveries.record_deliveries(recorded, now)
            self._forget_expired(now)
        self._count(provider, "produced", len(responses))
        for r in responses:
            log.info("%s %s dispatch %s", provider, r.status, r.dispatch_id)
        if unknown_status:
            # What was known is on the topic; the provider's retry brings the
            # rest again, and the repeats carry the same event ids.
            return _text(503, "unknown message, try again")
        return _text(200, "ok")

    def _unseen(self, observations: Sequence[Observation], oldest: datetime) -> list[Observation]:
        """The observations not recorded within the window, each once."""
        keys = [mapping.delivery_key(obs) for obs in observations]
        seen = (
            self.deliveries.seen_deliveries(set(keys), oldest)
            if self.deliveries is not None
            else set()
        )
        fresh: list[Observation] = []
        for key, obs in zip(keys, observations, strict=True):
            if key not in seen:
                seen.add(key)
                fresh.append(obs)
        return fresh

    def _forget_expired(self, now: datetime) -> None:
        if self.deliveries is None:
            return
        if self._forgotten_at is not None and now - self._forgotten_at < FORGET_EVERY:
            return
        self._forgotten_at = now
        self.deliveries.forget_deliveries(now - self.replay_window)

    @staticmethod
    def _response(obs: Observation, found: Correlation) -> ChannelResponse:
        return ChannelResponse(
            # The same callback delivered twice is the same event.
            event_id=response_id(found.dispatch_id, obs.status, obs.message_id),
            occurred_at=obs.occurred_at,
            source=f"webhooks.{obs.provider}",
            debtor_id=found.debtor_id,
            dispatch_id=found.dispatch_id,
            channel=obs.channel,
            status=obs.status,
            provider=obs.provider,
            provider_message_id=obs.message_id,
            text=obs.text,
            error_code=obs.error_code,
        )
