"""A generic HTTPS webhook channel: each dispatch is POSTed as JSON to one
endpoint of the operator's own (a CRM, an in-house SMS gateway, an agent
desktop).

Headers: ``Idempotency-Key`` (the dispatch id: the receiver drops a repeat),
``X-Recaudo-Timestamp`` and ``X-Recaudo-Signature: sha256=<hex>``, an
HMAC-SHA256 with the shared secret of ``"{timestamp}." + body``, so the
receiver can check both origin and freshness.

Answers: 2xx accepted (``{"id": ...}`` names the message, else the dispatch id
does); 409 means "already have it", also accepted; 408, 425, 429 and 5xx are
transient; any other 4xx is permanent, a bounce if the body says
``{"bounced": true}``. By this contract 408, 425, 429 and 503 mean the
receiver did not process the POST (retried); after any other 5xx, a timeout
or a dropped connection it may have, and the connector asks it (below) or
reports the outcome unknown instead of posting again: a receiver is asked to
drop a repeated ``Idempotency-Key``, but recaudo does not rely on it
(``deduplicates`` is False).

Lookup (``RECAUDO_WEBHOOK_LOOKUP``): a connector restarted after a crash asks
about a send whose answer it never saw with ``GET`` on the same URL, the
dispatch id in ``Idempotency-Key`` and the signature computed over it in
place of a body. 200 (``{"id": ...}`` optional) means the receiver has that
dispatch, 404 that it never received it (and will not: a POST still being
processed is answered for once it is done); 408, 425, 429 and 5xx are
transient; anything else means it cannot tell.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from connectors.providers import http
from connectors.providers.base import (
    ClosesAsync,
    OutboundMessage,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
)
from connectors.providers.redact import redact
from connectors.webhooks.signatures import webhook_signature
from recaudo.contracts.records import Channel
from recaudo.settings import Settings

#: What the receiver answers when it did not process a POST (see above).
NOT_PROCESSED = http.NOT_PROCESSED | {503}


class WebhookProvider(ClosesAsync):
    def __init__(self, settings: Settings, channel: Channel) -> None:
        if not settings.webhook_url or settings.webhook_secret is None:
            raise ValueError("webhook needs RECAUDO_WEBHOOK_URL and RECAUDO_WEBHOOK_SECRET")
        self.name = "webhook"
        self.channel: Channel = channel
        self._url = settings.webhook_url
        self._secret = settings.webhook_secret.get_secret_value().encode()
        self._client = http.client(settings, "")
        self.looks_up = settings.webhook_lookup
        self.deduplicates = False
        self.max_calls = settings.provider_max_connections

    async def aclose(self) -> None:
        await self._client.aclose()

    @staticmethod
    def payload(msg: OutboundMessage) -> dict[str, Any]:
        return {
            "dispatch_id": msg.dispatch_id,
            "channel": msg.channel,
            "address": msg.address,
            "subject": msg.subject,
            "body": msg.body,
            "locale": msg.locale,
            "template": msg.template,
            "variables": msg.variables,
        }

    async def send(self, msg: OutboundMessage) -> SendResult:
        body = json.dumps(self.payload(msg), separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        response = await http.post(
            self._client,
            self._url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": msg.dispatch_id,
                "X-Recaudo-Timestamp": timestamp,
                "X-Recaudo-Signature": webhook_signature(self._secret, timestamp, body),
            },
        )
        if 200 <= response.status_code < 300 or response.status_code == 409:
            return SendResult(
                status="ACCEPTED", provider_message_id=_id(response) or msg.dispatch_id
            )
        answer = _json(response)
        code = str(answer.get("code") or f"HTTP_{response.status_code}")
        text = redact(str(answer.get("message") or response.reason_phrase), msg.address)
        message = f"webhook {response.status_code} {code}: {text}"
        if http.is_transient_status(response.status_code):
            raise http.transient_answer(response, message, code, not_processed=NOT_PROCESSED)
        raise PermanentProviderError(message, code, bounced=answer.get("bounced") is True)

    async def lookup(self, msg: OutboundMessage) -> SendResult | None:
        timestamp = str(int(time.time()))
        key = msg.dispatch_id
        response = await http.get(
            self._client,
            self._url,
            headers={
                "Idempotency-Key": key,
                "X-Recaudo-Timestamp": timestamp,
                "X-Recaudo-Signature": webhook_signature(self._secret, timestamp, key.encode()),
            },
        )
        if response.status_code == 200:
            return SendResult(status="ACCEPTED", provider_message_id=_id(response) or key)
        if response.status_code == 404:
            return None
        message = f"webhook lookup {response.status_code}: {response.reason_phrase}"
        if http.is_transient_status(response.status_code):
            raise TransientProviderError(message, f"HTTP_{response.status_code}")
        raise PermanentProviderError(message, f"HTTP_{response.status_code}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _id(response: httpx.Response) -> str | None:
    value = _json(response).get("id")
    return str(value) if value else None
