"""Email replies into channel responses, on the real broker and Postgres:
through the local SMTP receiver (a real SMTP client sends them) and through
the webhook service's Mailgun route (POSTs built and signed as Mailgun's docs
say). A reply is threaded to the dispatch it answers, recorded once however
often it is delivered, and one that names no dispatch is dead-lettered.

Each test ends with a last, different reply of the same debtor: same key,
same partition, after anything the earlier deliveries produced, so reading
up to it shows everything they produced."""

from __future__ import annotations

import asyncio
import smtplib
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage

import httpx
import pytest
from pydantic import SecretStr

from connectors.inbound_email.receiver import InboundEmailService
from connectors.providers.base import OutboundMessage
from connectors.providers.smtp import SmtpProvider
from connectors.webhooks.server import WebhookService
from recaudo.contracts.records import ChannelResponse, DeadLetter
from recaudo.kafka.serde import Serde
from recaudo.settings import Settings
from tests.fakes.smtp import FakeSmtp
from tests.integration.connectors.webhooks import responses_until, running
from tests.integration.kafka_io import consume_all
from tests.unit.connectors.inbound_email.mailgun_forms import (
    SIGNING_KEY,
    mailgun_fields,
    urlencoded,
)

pytestmark = pytest.mark.integration

THREAD_KEY = "thread-key-for-tests"


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    return pg_settings.model_copy(
        update={
            "email_thread_key": SecretStr(THREAD_KEY),
            "email_reply_to": "respuestas@banco.example",
            "mailgun_signing_key": SecretStr(SIGNING_KEY),
            "smtp_from": "cobranza@banco.example",
        }
    )


@pytest.fixture
def receiver(settings: Settings) -> Iterator[InboundEmailService]:
    service = InboundEmailService(settings, port=0)
    service.start()
    try:
        assert service.ready()
        yield service
    finally:
        service.close()


def sent_email(settings: Settings, dispatch_id: str, debtor_id: str) -> EmailMessage:
    """The collection email recaudo's SMTP adapter sends for this dispatch."""
    with FakeSmtp() as smtp:
        provider = SmtpProvider(
            settings.model_copy(
                update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none"}
            )
        )
        outbound = OutboundMessage(
            dispatch_id=dispatch_id,
            channel="email",
            address="ana@example.com",
            subject="Su cuota vence el viernes",
            body="Estimada Ana, su cuota de $100 vence el viernes.",
            locale="es",
            template="reminder",
            debtor_id=debtor_id,
        )
        asyncio.run(provider.send(outbound))
        [received] = smtp.handler.received
    return received  # type: ignore[return-value]


def header(message: EmailMessage, name: str) -> str:
    """A header of ``message`` unfolded (the fake server keeps them as sent)."""
    return "".join(str(message[name]).split())


def reply_to(original: EmailMessage, text: str, message_id: str) -> EmailMessage:
    """What a mail client sends when Ana answers ``original``."""
    reply = EmailMessage()
    reply["From"] = "Ana <ana@example.com>"
    reply["To"] = header(original, "Reply-To")
    reply["Subject"] = "Re: " + str(original["Subject"])
    reply["Message-ID"] = message_id
    reply["In-Reply-To"] = header(original, "Message-ID")
    reply["References"] = header(original, "Message-ID")
    quoted = "\n".join("> " + line for line in str(original.get_payload()).splitlines())
    reply.set_content(
        f"{text}\n\nEl lun, 7 dic 2026, Banco <cobranza@banco.example> escribió:\n{quoted}\n"
    )
    return reply


def smtp_send(service: InboundEmailService, message: EmailMessage, to: str) -> None:
    with smtplib.SMTP("127.0.0.1", service.port, timeout=30) as client:
        client.send_message(message, from_addr="ana@example.com", to_addrs=[to])


def dead_letters(settings: Settings, expected: int) -> list[DeadLetter]:
    serde = Serde(settings)
    out = []
    for msg in consume_all(settings, serde.topics.dlq, expected):
        letter = serde.deserialize(serde.topics.dlq, msg.value())
        assert isinstance(letter, DeadLetter)
        out.append(letter)
    return out


def of_debtor(settings: Settings, debtor_id: str, last_text: str) -> list[ChannelResponse]:
    got = responses_until(settings, lambda r: r.debtor_id == debtor_id and r.text == last_text)
    return [r for r in got if r.debtor_id == debtor_id]


def test_a_reply_over_smtp_is_one_replied_response_of_its_dispatch(
    settings: Settings, receiver: InboundEmailService
) -> None:
    dispatch_id, debtor_id = str(uuid.uuid4()), f"D-{uuid.uuid4().hex[:6]}"
    original = sent_email(settings, dispatch_id, debtor_id)
    reply = reply_to(original, "Pago el viernes 200 mil.", "<reply-1@mail.example.com>")
    smtp_send(receiver, reply, reply["To"])
    # Delivered again (the sending server never saw our 250, say): the same email.
    smtp_send(receiver, reply, reply["To"])
    last = reply_to(original, "Gracias.", "<reply-2@mail.example.com>")
    smtp_send(receiver, last, "respuestas@banco.example")

    responses = of_debtor(settings, debtor_id, "Gracias.")
    assert [(r.status, r.channel, r.dispatch_id, r.text) for r in responses] == [
        ("REPLIED", "email", dispatch_id, "Pago el viernes 200 mil."),
        ("REPLIED", "email", dispatch_id, "Gracias."),
    ]
    assert receiver.emails.counts["replayed"] == 1


def test_a_reply_threads_by_its_plus_address_alone(
    settings: Settings, receiver: InboundEmailService
) -> None:
    dispatch_id, debtor_id = str(uuid.uuid4()), f"D-{uuid.uuid4().hex[:6]}"
    original = sent_email(settings, dispatch_id, debtor_id)
    plus = header(original, "Reply-To")
    fresh = EmailMessage()
    fresh["From"] = "ana@example.com"
    fresh["To"] = plus
    fresh["Message-ID"] = "<fresh-1@mail.example.com>"
    fresh.set_content("¿Cuánto debo?")
    smtp_send(receiver, fresh, plus)
    [response] = of_debtor(settings, debtor_id, "¿Cuánto debo?")
    assert response.dispatch_id == dispatch_id


def test_an_email_naming_no_dispatch_is_dead_lettered_with_its_bytes(
    settings: Settings, receiver: InboundEmailService
) -> None:
    stray = EmailMessage()
    stray["From"] = "spam@example.net"
    stray["To"] = "respuestas@banco.example"
    stray["Message-ID"] = "<stray-1@example.net>"
    stray["In-Reply-To"] = "<not-ours@example.net>"
    stray.set_content("hola")
    smtp_send(receiver, stray, "respuestas@banco.example")
    [letter] = dead_letters(settings, 1)
    assert letter.key == b"<stray-1@example.net>"
    assert letter.value is not None and b"<not-ours@example.net>" in letter.value
    assert "answers no dispatch" in letter.error_message
    assert letter.source_topic == "smtp:inbound-email"
    assert receiver.emails.counts["dead_letters"] == 1


def test_an_email_over_the_size_limit_is_refused(settings: Settings) -> None:
    service = InboundEmailService(
        settings.model_copy(update={"inbound_email_max_bytes": 2048}), port=0
    )
    service.start()
    try:
        big = EmailMessage()
        big["Message-ID"] = "<big@example.net>"
        big.set_content("x" * 4096)
        with pytest.raises(smtplib.SMTPException) as refused:
            smtp_send(service, big, "respuestas@banco.example")
        assert "552" in str(refused.value)
    finally:
        service.close()


# --- Mailgun, on the webhook service ---------------------------------------------------


@pytest.fixture
def webhooks(settings: Settings) -> Iterator[WebhookService]:
    with running(settings) as service:
        yield service


def post_mailgun(service: WebhookService, form: dict[str, str]) -> httpx.Response:
    content_type, body = urlencoded(form)
    return httpx.post(
        f"http://127.0.0.1:{service.port}/mailgun/inbound",
        content=body,
        headers={"Content-Type": content_type},
        timeout=30,
    )


def test_a_signed_mailgun_reply_is_recorded_once(
    settings: Settings, webhooks: WebhookService
) -> None:
    dispatch_id, debtor_id = str(uuid.uuid4()), f"D-{uuid.uuid4().hex[:6]}"
    original = sent_email(settings, dispatch_id, debtor_id)
    now = int(time.time())
    form = mailgun_fields(
        message_id="<mg-1@mail.example.com>",
        in_reply_to=header(original, "Message-ID"),
        text="Vou pagar dia 15.",
        timestamp=now,
    )
    assert post_mailgun(webhooks, form).status_code == 200
    assert post_mailgun(webhooks, form).status_code == 200  # replayed
    forged = {**form, "signature": "0" * 64, "Message-Id": "<mg-forged@x>"}
    assert post_mailgun(webhooks, forged).status_code == 401
    last = mailgun_fields(
        message_id="<mg-2@mail.example.com>",
        in_reply_to=header(original, "Message-ID"),
        text="Obrigada.",
        timestamp=now,
    )
    assert post_mailgun(webhooks, last).status_code == 200

    responses = of_debtor(settings, debtor_id, "Obrigada.")
    assert [(r.status, r.dispatch_id, r.provider, r.text) for r in responses] == [
        ("REPLIED", dispatch_id, "mailgun", "Vou pagar dia 15."),
        ("REPLIED", dispatch_id, "mailgun", "Obrigada."),
    ]
