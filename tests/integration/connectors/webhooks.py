"""Running the webhook service in a test, calling it as Twilio and Meta do,
and reading what it put on the channel-responses topic."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
from confluent_kafka import Consumer, TopicPartition
from pydantic import SecretStr

from connectors.providers.meta_whatsapp import callback_data
from connectors.webhooks.server import WebhookService
from connectors.webhooks.signatures import meta_signature, twilio_signature
from recaudo.contracts.records import ChannelResponse
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings

TOKEN = "twilio-auth-token"
APP_SECRET = "meta-app-secret"


def webhook_settings(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(
        update={
            "twilio_auth_token": SecretStr(TOKEN),
            "meta_app_secret": SecretStr(APP_SECRET),
            **update,
        }
    )


@contextmanager
def running(settings: Settings) -> Iterator[WebhookService]:
    """The service on 127.0.0.1 (a free port), ready: projection assigned,
    Postgres answering."""
    service = WebhookService(settings, 0, "127.0.0.1")
    thread = threading.Thread(target=service.run, name="webhook-service")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not service.ready():
            assert time.monotonic() < deadline, "webhook service not ready in 30 s"
            time.sleep(0.1)
        yield service
    finally:
        service.stop()
        thread.join(20)
        assert not thread.is_alive(), "webhook service did not stop"


def twilio_status_url(service: WebhookService, dispatch_id: str, debtor_id: str) -> str:
    """A per-message status callback URL, naming its dispatch as recaudo sets it."""
    query = urlencode({"dispatch_id": dispatch_id, "debtor_id": debtor_id})
    return f"http://127.0.0.1:{service.port}/twilio/status?{query}"


def signed_twilio(url: str, form: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a callback Twilio signed."""
    signature = twilio_signature(TOKEN, url, {k: [v] for k, v in form.items()})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    return urlencode(form).encode(), headers


def post_twilio(url: str, form: dict[str, str]) -> httpx.Response:
    body, headers = signed_twilio(url, form)
    return httpx.post(url, content=body, headers=headers, timeout=30)


def meta_status(
    message_id: str, status: str, dispatch_id: str, debtor_id: str, timestamp: int
) -> dict[str, Any]:
    """A WhatsApp status webhook delivery, as Meta sends it."""
    item = {
        "id": message_id,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": "573001112233",
        "biz_opaque_callback_data": callback_data(dispatch_id, debtor_id),
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1098765432"},
        "statuses": [item],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }


def post_meta(service: WebhookService, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(
        f"http://127.0.0.1:{service.port}/meta/whatsapp",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(APP_SECRET, body),
        },
        timeout=30,
    )


def responses_until(
    settings: Settings, last: Callable[[ChannelResponse], bool], timeout_s: float = 30.0
) -> list[ChannelResponse]:
    """Every channel response from the start of the topic up to and including
    the first for which ``last`` is true. Written after the others of the same
    debtor (same key, same partition), it shows that nothing else of that
    debtor came before it."""
    serde = Serde(settings)
    topic = serde.topics.channel_responses
    consumer = Consumer(
        {
            **settings.kafka_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out: list[ChannelResponse] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            response = serde.deserialize(topic, msg.value())
            assert isinstance(response, ChannelResponse)
            out.append(response)
            if last(response):
                return out
        raise AssertionError(f"the last response expected never came; read {out}")
    finally:
        consumer.close()
