"""The webhook service end to end, on the real broker and Postgres: a signed
Twilio callback becomes a channel response of the right dispatch; a bad
signature is answered 401 and produces nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest

from connectors.webhooks.server import WebhookService
from connectors.webhooks.signatures import twilio_signature
from recaudo.contracts.records import ChannelResponse, DispatchCommand
from recaudo.kafka.producer import RecaudoProducer
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from tests.integration.connectors.webhooks import TOKEN, running, webhook_settings
from tests.integration.kafka_io import consume_all

pytestmark = pytest.mark.integration

PHONE = "+573001112233"


@pytest.fixture
def service(pg_settings: Settings) -> Iterator[WebhookService]:
    with running(webhook_settings(pg_settings)) as service:
        yield service


def post_twilio(
    service: WebhookService, path: str, form: dict[str, str], sign: bool = True
) -> httpx.Response:
    url = f"http://127.0.0.1:{service.port}{path}"
    signature = twilio_signature(TOKEN if sign else "wrong", url, {k: [v] for k, v in form.items()})
    return httpx.post(
        url,
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
        timeout=20,
    )


def wait_until(condition: object, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not (callable(condition) and condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_signed_callbacks_become_responses_of_their_dispatch(
    service: WebhookService, pg_settings: Settings
) -> None:
    serde = Serde(pg_settings)
    now = datetime.now(UTC)
    # What the connector reported when it sent, and the command it sent.
    accepted = ChannelResponse(
        occurred_at=now,
        source="connector.sms.twilio",
        debtor_id="D-42",
        dispatch_id="disp-42",
        channel="sms",
        status="ACCEPTED",
        provider="twilio",
        provider_message_id="SMabc123",
    )
    dispatched = DispatchCommand(
        occurred_at=now,
        source="test",
        debtor_id="D-42",
        dispatch_id="disp-42",
        channel="sms",
        address=PHONE,
        template="reminder",
        locale="es",
        body="Hola",
        not_before=now,
        expires_at=now + timedelta(hours=1),
        trigger="payment_missed",
        step=0,
    )
    with RecaudoProducer(pg_settings, serde) as producer:
        producer.publish(accepted)
        producer.publish(dispatched)
    wait_until(lambda: service.store.by_message("SMabc123") is not None, "message not projected")
    wait_until(lambda: service.store.by_address("sms", PHONE) is not None, "address not projected")

    delivered = {
        "MessageSid": "SMabc123",
        "MessageStatus": "delivered",
        "To": PHONE,
        "AccountSid": "AC1",
    }
    assert post_twilio(service, "/twilio/status", delivered, sign=False).status_code == 401
    assert post_twilio(service, "/twilio/status", delivered).status_code == 200
    stop = {"MessageSid": "SMin777", "From": PHONE, "To": "+15550001111", "Body": "STOP"}
    assert post_twilio(service, "/twilio/inbound", stop, sign=False).status_code == 401
    reply = post_twilio(service, "/twilio/inbound", stop)
    assert reply.status_code == 200 and "<Response/>" in reply.text

    topic = serde.topics.channel_responses
    responses = [
        r
        for m in consume_all(pg_settings, topic, expected=3)
        if isinstance(r := serde.deserialize(topic, m.value()), ChannelResponse)
    ]
    from_webhooks = [
        (r.dispatch_id, r.debtor_id, r.status, r.provider_message_id)
        for r in responses
        if r.source == "webhooks.twilio"
    ]
    assert from_webhooks == [
        ("disp-42", "D-42", "DELIVERED", "SMabc123"),
        ("disp-42", "D-42", "OPTED_OUT", "SMin777"),
    ]
    metrics = httpx.get(f"http://127.0.0.1:{service.port}/metrics", timeout=5).text
    assert 'recaudo_webhooks_rejected_total{provider="twilio"} 2.0' in metrics
    assert httpx.get(f"http://127.0.0.1:{service.port}/readyz", timeout=5).status_code == 200
