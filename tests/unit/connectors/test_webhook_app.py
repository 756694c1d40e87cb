"""The webhook service's request handling without a server or a broker:
signatures checked first, callbacks read into channel responses of the right
dispatch, opt-outs recognised, nothing personal in the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.webhooks.app import FORGET_EVERY, Request, WebhookApp
from connectors.webhooks.mapping import is_opt_out
from connectors.webhooks.signatures import meta_signature, twilio_signature
from connectors.webhooks.store import Correlation
from recaudo.contracts.records import Channel, ChannelResponse
from recaudo.settings import Settings

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
TOKEN = "twilio-token"
APP_SECRET = "meta-app-secret"
PUBLIC = "https://hooks.example.com"
PHONE = "+573001112233"
BODY_TEXT = "no puedo pagar este mes, mi saldo es 123456"


class Resolver:
    def __init__(self) -> None:
        self.messages: dict[str, Correlation] = {"SMsent1": Correlation("disp-1", "D-1")}
        self.addresses: dict[tuple[str, str], Correlation] = {
            ("sms", PHONE): Correlation("disp-2", "D-2"),
            ("whatsapp", PHONE): Correlation("disp-3", "D-2"),
        }

    def by_message(self, provider_message_id: str) -> Correlation | None:
        return self.messages.get(provider_message_id)

    def by_address(self, channel: Channel, address: str) -> Correlation | None:
        return self.addresses.get((channel, address))


class Published(list[ChannelResponse]):
    ok = True

    def __call__(self, responses: Sequence[ChannelResponse]) -> bool:
        self.extend(responses)
        return self.ok


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def app(published: Published, tmp_path: Path) -> WebhookApp:
    settings = Settings(
        state_dir=tmp_path,
        twilio_auth_token=SecretStr(TOKEN),
        meta_app_secret=SecretStr(APP_SECRET),
        meta_verify_token=SecretStr("verify-me"),
        webhooks_public_url=PUBLIC,
    )
    return WebhookApp(settings, Resolver(), published, clock=lambda: NOW)


def twilio_request(
    path: str, form: dict[str, str], query: str = "", signature: str | None = "sign"
) -> Request:
    url = PUBLIC + path + (f"?{query}" if query else "")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        signature = twilio_signature(TOKEN, url, {k: [v] for k, v in form.items()})
    if signature is not None:
        headers["x-twilio-signature"] = signature
    return Request("POST", path, query, headers, urlencode(form).encode())


def meta_request(payload: dict[str, Any], signature: str | None = "sign") -> Request:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if signature == "sign":
        signature = meta_signature(APP_SECRET, body)
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return Request("POST", "/meta/whatsapp", "", headers, body)


def meta_payload(statuses: list[Any] | None = None, messages: list[Any] | None = None) -> Any:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1098765432"},
    }
    if statuses is not None:
        value["statuses"] = statuses
    if messages is not None:
        value["contacts"] = [{"profile": {"name": "Ana"}, "wa_id": PHONE[1:]}]
        value["messages"] = messages
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }


# --- signatures ----------------------------------------------------------------------------


@pytest.mark.parametrize("signature", [None, "", "bm90IHRoZSBzaWduYXR1cmU="])
def test_twilio_bad_or_missing_signature_is_401_and_nothing_published(
    app: WebhookApp, published: Published, signature: str | None
) -> None:
    form = {"MessageSid": "SMsent1", "MessageStatus": "delivered", "To": PHONE}
    reply = app.handle(twilio_request("/twilio/status", form, signature=signature))
    assert reply.status == 401 and published == []


def test_twilio_signature_over_another_url_is_rejected(
    app: WebhookApp, published: Published
) -> None:
    form = {"MessageSid": "SMsent1", "MessageStatus": "delivered"}
    signed_elsewhere = twilio_signature(TOKEN, "https://evil.example/twilio/status", {})
    reply = app.handle(twilio_request("/twilio/status", form, signature=signed_elsewhere))
    assert reply.status == 401 and published == []


@pytest.mark.parametrize("signature", [None, "", "sha256=" + "0" * 64])
def test_meta_bad_or_missing_signature_is_401(
    app: WebhookApp, published: Published, signature: str | None
) -> None:
    payload = meta_payload(statuses=[{"id": "wamid.1", "status": "read"}])
    assert app.handle(meta_request(payload, signature)).status == 401
    assert published == []


def test_meta_subscription_check_echoes_the_challenge_only_for_the_right_token(
    app: WebhookApp,
) -> None:
    good = "hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
    reply = app.handle(Request("GET", "/meta/whatsapp", good, {}))
    assert (reply.status, reply.body) == (200, b"1158201444")
    bad = "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444"
    assert app.handle(Request("GET", "/meta/whatsapp", bad, {})).status == 403


def test_unconfigured_provider_is_404(published: Published, tmp_path: Path) -> None:
    bare = WebhookApp(Settings(state_dir=tmp_path), Resolver(), published)
    assert bare.handle(twilio_request("/twilio/status", {})).status == 404
    assert bare.handle(meta_request({})).status == 404


# --- Twilio --------------------------------------------------------------------------------


def test_twilio_status_named_by_its_callback_url(app: WebhookApp, published: Published) -> None:
    form = {"MessageSid": "SMother", "MessageStatus": "delivered", "To": PHONE}
    reply = app.handle(twilio_request("/twilio/status", form, "dispatch_id=disp-9&debtor_id=D-9"))
    assert reply.status == 200
    [response] = published
    assert (response.dispatch_id, response.debtor_id, response.status) == (
        "disp-9",
        "D-9",
        "DELIVERED",
    )
    assert response.provider == "twilio" and response.provider_message_id == "SMother"


def test_twilio_status_found_by_message_sid(app: WebhookApp, published: Published) -> None:
    form = {"MessageSid": "SMsent1", "MessageStatus": "undelivered", "ErrorCode": "30005"}
    assert app.handle(twilio_request("/twilio/status", form)).status == 200
    [response] = published
    assert (response.dispatch_id, response.status, response.error_code) == (
        "disp-1",
        "BOUNCED",
        "30005",
    )


def test_twilio_status_of_an_unknown_message_asks_for_a_retry(
    app: WebhookApp, published: Published
) -> None:
    form = {"MessageSid": "SMunknown", "MessageStatus": "delivered"}
    assert app.handle(twilio_request("/twilio/status", form)).status == 503
    assert published == []


def test_twilio_interim_statuses_are_dropped(app: WebhookApp, published: Published) -> None:
    form = {"MessageSid": "SMsent1", "MessageStatus": "queued"}
    assert app.handle(twilio_request("/twilio/status", form)).status == 200
    assert published == []


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"CallStatus": "completed", "AnsweredBy": "human"}, "CALL_ANSWERED"),
        ({"CallStatus": "completed", "AnsweredBy": "machine_end_beep"}, "CALL_VOICEMAIL"),
        ({"CallStatus": "no-answer"}, "CALL_NO_ANSWER"),
        ({"CallStatus": "busy"}, "CALL_NO_ANSWER"),
        ({"CallStatus": "failed"}, "FAILED"),
    ],
)
def test_twilio_call_outcomes(
    app: WebhookApp, published: Published, form: dict[str, str], status: str
) -> None:
    form = {"CallSid": "CA1", **form}
    assert app.handle(twilio_request("/twilio/status", form, "dispatch_id=d&debtor_id=k")).status
    [response] = published
    assert (response.channel, response.status) == ("voice", status)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("STOP", "OPTED_OUT"),
        (" baja. ", "OPTED_OUT"),
        ("Parar", "OPTED_OUT"),
        (BODY_TEXT, "REPLIED"),
    ],
)
def test_twilio_inbound_sms_reply_or_opt_out(
    app: WebhookApp, published: Published, text: str, status: str
) -> None:
    form = {"MessageSid": "SMin1", "From": PHONE, "To": "+15550001111", "Body": text}
    reply = app.handle(twilio_request("/twilio/inbound", form))
    assert reply.status == 200 and reply.content_type == "text/xml"
    [response] = published
    assert (response.dispatch_id, response.debtor_id, response.status) == ("disp-2", "D-2", status)
    assert response.text == text


def test_twilio_advanced_opt_out_flag_is_an_opt_out(app: WebhookApp, published: Published) -> None:
    form = {"MessageSid": "SMin2", "From": PHONE, "Body": "ALTO", "OptOutType": "STOP"}
    app.handle(twilio_request("/twilio/inbound", form))
    assert published[0].status == "OPTED_OUT"


def test_inbound_from_an_unknown_number_is_dropped(app: WebhookApp, published: Published) -> None:
    form = {"MessageSid": "SMin3", "From": "+15559990000", "Body": "hola"}
    assert app.handle(twilio_request("/twilio/inbound", form)).status == 200
    assert published == [] and app.counts["twilio:unmatched_inbound"] == 1


def test_same_callback_twice_is_the_same_event(app: WebhookApp, published: Published) -> None:
    form = {"MessageSid": "SMsent1", "MessageStatus": "delivered"}
    app.handle(twilio_request("/twilio/status", form))
    app.handle(twilio_request("/twilio/status", form))
    assert published[0].event_id == published[1].event_id


def test_publish_failure_is_503_so_the_provider_retries(
    app: WebhookApp, published: Published
) -> None:
    published.ok = False
    form = {"MessageSid": "SMsent1", "MessageStatus": "delivered"}
    assert app.handle(twilio_request("/twilio/status", form)).status == 503


# --- Meta ----------------------------------------------------------------------------------


def test_meta_statuses_and_messages(app: WebhookApp, published: Published) -> None:
    opaque = json.dumps({"dispatch_id": "disp-5", "debtor_id": "D-5"})
    payload = meta_payload(
        statuses=[
            {
                "id": "wamid.A",
                "status": "delivered",
                "timestamp": "1793631600",
                "recipient_id": PHONE[1:],
                "biz_opaque_callback_data": opaque,
            },
            {
                "id": "wamid.A",
                "status": "failed",
                "timestamp": "1793631601",
                "recipient_id": PHONE[1:],
                "biz_opaque_callback_data": opaque,
                "errors": [{"code": 131026, "title": "Message undeliverable"}],
            },
        ],
        messages=[
            {
                "from": PHONE[1:],
                "id": "wamid.IN1",
                "timestamp": "1793631700",
                "type": "text",
                "text": {"body": "BAJA"},
            },
            {
                "from": PHONE[1:],
                "id": "wamid.IN2",
                "timestamp": "1793631800",
                "type": "button",
                "button": {"text": "Quiero un plan", "payload": "PLAN"},
            },
        ],
    )
    assert app.handle(meta_request(payload)).status == 200
    got = [(r.dispatch_id, r.debtor_id, r.status, r.text) for r in published]
    assert got == [
        ("disp-5", "D-5", "DELIVERED", None),
        ("disp-5", "D-5", "BOUNCED", None),
        ("disp-3", "D-2", "OPTED_OUT", "BAJA"),
        ("disp-3", "D-2", "REPLIED", "Quiero un plan"),
    ]
    assert published[0].occurred_at == datetime.fromtimestamp(1793631600, UTC)
    assert {r.channel for r in published} == {"whatsapp"}


def test_meta_reply_to_a_message_follows_its_context(app: WebhookApp, published: Published) -> None:
    payload = meta_payload(
        messages=[
            {
                "from": "5215550000000",
                "id": "wamid.IN3",
                "type": "text",
                "text": {"body": "ya pagué"},
                "context": {"from": "x", "id": "SMsent1"},
            }
        ]
    )
    app.handle(meta_request(payload))
    assert [(r.dispatch_id, r.status) for r in published] == [("disp-1", "REPLIED")]


# --- privacy -------------------------------------------------------------------------------


def test_nothing_personal_is_logged(
    app: WebhookApp, published: Published, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forms = [
        ("/twilio/inbound", {"MessageSid": "SMin1", "From": PHONE, "Body": BODY_TEXT}),
        ("/twilio/inbound", {"MessageSid": "SMin4", "From": "+15559990000", "Body": BODY_TEXT}),
        ("/twilio/status", {"MessageSid": "SMsent1", "MessageStatus": "failed", "To": PHONE}),
    ]
    for path, form in forms:
        app.handle(twilio_request(path, form))
        app.handle(twilio_request(path, form, signature="bad"))
    payload = meta_payload(
        messages=[
            {"from": PHONE[1:], "id": "wamid.IN1", "type": "text", "text": {"body": BODY_TEXT}}
        ]
    )
    app.handle(meta_request(payload))
    app.handle(meta_request(payload, signature="bad"))
    assert published  # the callbacks were handled, and logged
    assert caplog.records
    for record in caplog.records:
        line = record.getMessage()
        for secret in (PHONE, PHONE[1:], "+15559990000", BODY_TEXT, "123456", "Ana"):
            assert secret not in line, line


def test_opt_out_keywords_are_whole_messages() -> None:
    assert is_opt_out("STOP") and is_opt_out("baja") and is_opt_out("¡PARAR!")
    assert not is_opt_out("quiero cancelar la deuda")
    assert not is_opt_out("stop llamando a las 6am")
    assert not is_opt_out(None) and not is_opt_out("")


# --- replays -------------------------------------------------------------------------------


class Deliveries:
    """The delivery keys recorded, in memory, as the Postgres table keeps them."""

    def __init__(self) -> None:
        self.seen: dict[str, datetime] = {}
        self.forgotten_before: list[datetime] = []

    def seen_deliveries(self, keys: Collection[str], since: datetime) -> set[str]:
        return {k for k in keys if k in self.seen and self.seen[k] >= since}

    def record_deliveries(self, keys: Collection[str], at: datetime) -> None:
        self.seen.update(dict.fromkeys(keys, at))

    def forget_deliveries(self, before: datetime) -> int:
        self.forgotten_before.append(before)
        old = [k for k, at in self.seen.items() if at < before]
        for k in old:
            del self.seen[k]
        return len(old)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deliveries() -> Deliveries:
    return Deliveries()


@pytest.fixture
def guarded(app: WebhookApp, clock: Clock, deliveries: Deliveries) -> WebhookApp:
    app.clock = clock
    app.deliveries = deliveries
    return app


WINDOW = timedelta(days=8)


def test_a_repeated_twilio_status_is_200_and_published_once(
    guarded: WebhookApp, published: Published
) -> None:
    form = {"MessageSid": "SMsent1", "MessageStatus": "delivered"}
    assert guarded.handle(twilio_request("/twilio/status", form)).status == 200
    assert guarded.handle(twilio_request("/twilio/status", form)).status == 200
    assert [r.status for r in published] == ["DELIVERED"]
    assert guarded.counts["twilio:replayed"] == 1


def test_a_repeated_twilio_inbound_is_answered_with_empty_twiml_and_published_once(
    guarded: WebhookApp, published: Published
) -> None:
    form = {"MessageSid": "SMin1", "From": PHONE, "Body": "STOP"}
    for _ in range(2):
        reply = guarded.handle(twilio_request("/twilio/inbound", form))
        assert reply.status == 200 and b"<Response/>" in reply.body
    assert [r.status for r in published] == ["OPTED_OUT"]


def test_a_callback_that_failed_to_publish_is_taken_when_retried(
    guarded: WebhookApp, published: Published
) -> None:
    form = {"MessageSid": "SMsent1", "MessageStatus": "delivered"}
    published.ok = False
    assert guarded.handle(twilio_request("/twilio/status", form)).status == 503
    published.ok = True
    published.clear()
    assert guarded.handle(twilio_request("/twilio/status", form)).status == 200
    assert [r.status for r in published] == ["DELIVERED"]


def test_a_status_of_an_unknown_message_is_not_remembered(
    guarded: WebhookApp, published: Published, deliveries: Deliveries
) -> None:
    form = {"MessageSid": "SMlater", "MessageStatus": "delivered"}
    assert guarded.handle(twilio_request("/twilio/status", form)).status == 503
    assert deliveries.seen == {}


def meta_status_at(message_id: str, status: str, when: datetime) -> dict[str, Any]:
    opaque = json.dumps({"dispatch_id": "disp-5", "debtor_id": "D-5"})
    return {
        "id": message_id,
        "status": status,
        "timestamp": str(int(when.timestamp())),
        "biz_opaque_callback_data": opaque,
    }


def test_a_meta_delivery_signed_before_the_window_is_403_and_published_nothing(
    guarded: WebhookApp, published: Published
) -> None:
    stale = meta_status_at("wamid.A", "delivered", NOW - WINDOW - timedelta(seconds=1))
    fresh = meta_status_at("wamid.B", "delivered", NOW)
    reply = guarded.handle(meta_request(meta_payload(statuses=[fresh, stale])))
    assert reply.status == 403 and published == []
    assert guarded.counts["meta:stale"] == 1


def test_a_meta_delivery_signed_at_the_window_edge_is_taken(
    guarded: WebhookApp, published: Published
) -> None:
    edge = meta_status_at("wamid.A", "delivered", NOW - WINDOW)
    assert guarded.handle(meta_request(meta_payload(statuses=[edge]))).status == 200
    assert [r.provider_message_id for r in published] == ["wamid.A"]


def test_a_meta_batch_repeating_a_status_publishes_it_once(
    guarded: WebhookApp, published: Published
) -> None:
    status = meta_status_at("wamid.A", "read", NOW)
    assert guarded.handle(meta_request(meta_payload(statuses=[status, status]))).status == 200
    assert [r.status for r in published] == ["READ"]


def test_delivery_keys_older_than_the_window_are_forgotten_every_few_minutes(
    guarded: WebhookApp, clock: Clock, deliveries: Deliveries
) -> None:
    def deliver(sid: str) -> None:
        form = {"MessageSid": sid, "MessageStatus": "delivered"}
        query = "dispatch_id=disp-9&debtor_id=D-9"
        assert guarded.handle(twilio_request("/twilio/status", form, query)).status == 200

    deliver("SM1")
    clock.now += FORGET_EVERY / 2
    deliver("SM2")
    assert deliveries.forgotten_before == [NOW - WINDOW]
    clock.now = NOW + WINDOW + FORGET_EVERY
    deliver("SM3")
    assert deliveries.forgotten_before[-1] == clock.now - WINDOW
    assert set(deliveries.seen) == {"twilio:status:SM3:DELIVERED"}


SIDS = st.sampled_from(["SMa", "SMb", "SMc"])
STATES = st.sampled_from(["sent", "delivered", "read", "undelivered", "queued"])


@given(
    callbacks=st.lists(st.tuples(SIDS, STATES, st.integers(0, 8 * 86400)), max_size=25),
)
def test_within_the_window_each_distinct_callback_is_published_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, callbacks: list[tuple[str, str, int]]
) -> None:
    published = Published()
    clock = Clock()
    settings = Settings(
        state_dir=tmp_path_factory.getbasetemp(),
        twilio_auth_token=SecretStr(TOKEN),
        webhooks_public_url=PUBLIC,
    )
    app = WebhookApp(settings, Resolver(), published, clock=clock, deliveries=Deliveries())
    start = NOW
    for sid, state, offset in sorted(callbacks, key=lambda c: c[2]):
        clock.now = start + timedelta(seconds=offset)
        form = {"MessageSid": sid, "MessageStatus": state}
        reply = app.handle(twilio_request("/twilio/status", form, "dispatch_id=d&debtor_id=D"))
        assert reply.status == 200
    expected = {(sid, state) for sid, state, _ in callbacks if state != "queued"}
    got = [(r.provider_message_id, r.status) for r in published]
    assert len(got) == len(set(got)) == len(expected)
