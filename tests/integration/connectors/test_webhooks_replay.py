"""A validly signed callback sent again is answered 200 and recorded once, on
the real broker and Postgres, also by a restarted service; a Meta callback
whose signed timestamp is older than the replay window is refused.

Each test ends with a last, different callback of the same debtor: it lands
on the same partition after anything the earlier requests produced, so
reading up to it shows everything they produced."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from connectors.webhooks.server import WebhookService
from recaudo.embedded.broker import EmbeddedBroker
from recaudo.embedded.postgres import EmbeddedPostgres
from recaudo.kafka.topics_admin import ensure_topics
from recaudo.settings import Settings
from tests.integration.connectors.webhooks import (
    meta_status,
    post_meta,
    post_twilio,
    responses_until,
    running,
    twilio_status_url,
    webhook_settings,
)
from tests.integration.fixtures import create_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(
    broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Topics and a database for this module: each test has debtors,
    dispatches and provider messages of its own."""
    base = Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        embedded_broker=True,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        topic_partitions=3,
        state_dir=tmp_path_factory.mktemp("webhooks"),
        database_url=SecretStr(create_database(postgres)),
    )
    ensure_topics(base)
    return webhook_settings(base)


@pytest.fixture(scope="module")
def service(settings: Settings) -> Iterator[WebhookService]:
    """One running service for the tests that do not restart it (each
    counter they assert is moved by that test alone)."""
    with running(settings) as service:
        yield service


def statuses(settings: Settings, debtor_id: str, last_status: str) -> list[tuple[str, str]]:
    got = responses_until(settings, lambda r: r.debtor_id == debtor_id and r.status == last_status)
    return [(r.provider_message_id or "", r.status) for r in got if r.debtor_id == debtor_id]


def test_a_twilio_callback_sent_twice_is_recorded_once(
    service: WebhookService, settings: Settings
) -> None:
    url = twilio_status_url(service, "disp-t", "D-t")
    delivered = {"MessageSid": "SMtw1", "MessageStatus": "delivered", "AccountSid": "AC1"}
    assert post_twilio(url, delivered).status_code == 200
    assert post_twilio(url, delivered).status_code == 200
    read = {**delivered, "MessageStatus": "read"}
    assert post_twilio(url, read).status_code == 200
    assert statuses(settings, "D-t", "READ") == [("SMtw1", "DELIVERED"), ("SMtw1", "READ")]
    assert 'recaudo_webhooks_replayed_total{provider="twilio"} 1.0' in metrics(service)


def test_a_meta_callback_sent_twice_is_recorded_once(
    service: WebhookService, settings: Settings
) -> None:
    now = int(time.time())
    delivered = meta_status("wamid.1", "delivered", "disp-m", "D-m", now)
    assert post_meta(service, delivered).status_code == 200
    assert post_meta(service, delivered).status_code == 200
    assert post_meta(service, meta_status("wamid.1", "read", "disp-m", "D-m", now)).is_success
    assert statuses(settings, "D-m", "READ") == [("wamid.1", "DELIVERED"), ("wamid.1", "READ")]


def test_a_meta_callback_signed_400_days_ago_is_refused(
    service: WebhookService, settings: Settings
) -> None:
    now = int(time.time())
    old = meta_status("wamid.old", "delivered", "disp-o", "D-o", now - 400 * 86400)
    assert post_meta(service, old).status_code == 403
    assert post_meta(service, meta_status("wamid.new", "read", "disp-o", "D-o", now)).is_success
    assert statuses(settings, "D-o", "READ") == [("wamid.new", "READ")]
    assert 'recaudo_webhooks_stale_total{provider="meta"} 1.0' in metrics(service)


def test_a_callback_replayed_to_a_restarted_service_is_recorded_once(settings: Settings) -> None:
    form = {"MessageSid": "SMrs1", "MessageStatus": "delivered"}
    with running(settings) as first:
        assert post_twilio(twilio_status_url(first, "disp-r", "D-r"), form).status_code == 200
    with running(settings) as second:
        url = twilio_status_url(second, "disp-r", "D-r")
        assert post_twilio(url, form).status_code == 200
        assert post_twilio(url, {**form, "MessageStatus": "read"}).status_code == 200
    assert statuses(settings, "D-r", "READ") == [("SMrs1", "DELIVERED"), ("SMrs1", "READ")]


def metrics(service: WebhookService) -> str:
    return httpx.get(f"http://127.0.0.1:{service.port}/metrics", timeout=10).text
