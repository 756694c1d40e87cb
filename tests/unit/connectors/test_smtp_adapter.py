"""The email adapter against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.inbound_email.threads import Thread, find_thread, thread_key
from connectors.providers.base import (
    OutboundMessage,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
)
from connectors.providers.smtp import SmtpProvider
from recaudo.settings import Settings
from tests.fakes.smtp import FakeSmtp


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


@pytest.fixture
def provider(smtp: FakeSmtp, tmp_path: Path) -> SmtpProvider:
    return SmtpProvider(
        Settings(
            state_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
            smtp_from="cobranza@banco.example",
            provider_timeout_s=5,
        )
    )


def email(to: str, dispatch_id: str = "disp-7") -> OutboundMessage:
    return OutboundMessage(
        dispatch_id=dispatch_id,
        channel="email",
        address=to,
        subject="Su cuota vence el viernes",
        body="Hola Ana, su cuota de $100 vence el viernes.",
        locale="es",
        template="reminder",
        debtor_id="D-42",
    )


def send(provider: SmtpProvider, msg: OutboundMessage) -> SendResult:
    return asyncio.run(provider.send(msg))


def test_email_is_delivered_with_a_message_id_from_the_dispatch(
    smtp: FakeSmtp, provider: SmtpProvider, tmp_path: Path
) -> None:
    result = send(provider, email("ana@example.com"))
    assert result.status == "SENT"
    [received] = smtp.handler.received
    assert received["To"] == "ana@example.com"
    assert received["From"] == "cobranza@banco.example"
    assert received["Subject"] == "Su cuota vence el viernes"
    assert received["Message-ID"] == result.provider_message_id
    assert received["X-Recaudo-Dispatch-Id"] == "disp-7"
    assert received["Reply-To"] is None
    assert "vence el viernes" in received.get_payload()
    # A reply's In-Reply-To leads back to the dispatch and its debtor.
    key = thread_key(Settings(state_dir=tmp_path))  # this installation's own key
    assert find_thread([received["Message-ID"]], [], [], key) == Thread("disp-7", "D-42")
    # The same dispatch sent again carries the same Message-ID.
    assert send(provider, email("ana@example.com")).provider_message_id == received["Message-ID"]


def test_reply_to_is_a_plus_address_naming_the_dispatch(smtp: FakeSmtp, tmp_path: Path) -> None:
    key = "thread-key"
    provider = SmtpProvider(
        Settings(
            state_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
            smtp_from="cobranza@banco.example",
            email_reply_to="respuestas@banco.example",
            email_thread_key=SecretStr(key),
        )
    )
    dispatch = str(uuid.uuid4())
    send(provider, email("ana@example.com", dispatch))
    [received] = smtp.handler.received
    reply_to = "".join(received["Reply-To"].split())
    assert reply_to.startswith("respuestas+") and reply_to.endswith("@banco.example")
    assert len(reply_to.partition("@")[0]) <= 64
    assert find_thread([], [], [reply_to], key.encode()) == Thread(dispatch, "D-42")
    # Signed: without the key the token names nothing.
    assert find_thread([received["Message-ID"]], [], [reply_to], b"other") is None


def test_refused_recipient_is_a_bounce_without_the_address(provider: SmtpProvider) -> None:
    with pytest.raises(PermanentProviderError) as caught:
        send(provider, email("bounce@example.com"))
    assert caught.value.bounced and caught.value.code == "SMTP_550"
    assert "bounce@example.com" not in str(caught.value)


def test_temporary_refusal_is_transient_and_a_retry_delivers(
    smtp: FakeSmtp, provider: SmtpProvider
) -> None:
    with pytest.raises(TransientProviderError) as caught:
        send(provider, email("later@example.com"))
    assert caught.value.code == "SMTP_451"
    assert send(provider, email("later@example.com")).status == "SENT"
    assert len(smtp.handler.received) == 1


def test_rejected_message_is_permanent_but_not_a_bounce(provider: SmtpProvider) -> None:
    with pytest.raises(PermanentProviderError) as caught:
        send(provider, email("full@example.com"))
    assert not caught.value.bounced and caught.value.code == "SMTP_552"


def test_no_server_is_transient(tmp_path: Path) -> None:
    closed = SmtpProvider(
        Settings(state_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=9, smtp_security="none")
    )
    with pytest.raises(TransientProviderError):
        send(closed, email("ana@example.com"))
