"""The email adapter under network faults, against a real SMTP server
(aiosmtpd on 127.0.0.1), through the connector's retry rule: mail servers do
not de-duplicate, so a message that may have been taken (the connection lost
after DATA) is never sent again, and one that certainly was not (a refused
connection, a 4xx answer) is retried and delivered once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connectors.providers.base import (
    OutboundMessage,
    SendResult,
    TransientProviderError,
    deduplicates,
)
from connectors.providers.smtp import SmtpProvider
from connectors.retry import RetryPolicy, Unknown, send_with_retries
from recaudo.settings import Settings
from tests.fakes.smtp import FakeSmtp


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


def provider_for(smtp: FakeSmtp, tmp_path: Path) -> SmtpProvider:
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


def email(to: str) -> OutboundMessage:
    return OutboundMessage(
        dispatch_id="disp-7",
        channel="email",
        address=to,
        subject="Su cuota vence el viernes",
        body="Hola Ana, su cuota de $100 vence el viernes.",
        locale="es",
        template="reminder",
        debtor_id="D-42",
    )


def deliver(
    provider: SmtpProvider, msg: OutboundMessage, between: Callable[[], None] = lambda: None
) -> tuple[SendResult | Unknown, int]:
    """(outcome, SMTP sessions opened); ``between`` runs before each retry."""
    calls = 0

    async def attempt(_: int) -> SendResult:
        nonlocal calls
        calls += 1
        return await provider.send(msg)

    async def wait(seconds: float) -> None:
        between()
        await asyncio.sleep(seconds)

    policy = RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.05)
    outcome = asyncio.run(
        send_with_retries(
            attempt,
            policy,
            random.Random(1),
            deduplicates=deduplicates(provider),
            ask=None,
            sleep=wait,
        )
    )
    return outcome, calls


def test_a_connection_dropped_after_data_is_not_sent_again(smtp: FakeSmtp, tmp_path: Path) -> None:
    provider = provider_for(smtp, tmp_path)
    assert not deduplicates(provider)
    outcome, calls = deliver(provider, email("drop@example.com"))
    assert isinstance(outcome, Unknown) and outcome.code == "SMTP_AFTER_DATA"
    assert calls == 1
    assert smtp.handler.deliveries == {"drop@example.com": 1}
    assert len(smtp.handler.received) == 1


def test_a_4xx_answer_to_the_message_is_retried_and_delivered_once(
    smtp: FakeSmtp, tmp_path: Path
) -> None:
    outcome, calls = deliver(provider_for(smtp, tmp_path), email("busy@example.com"))
    assert isinstance(outcome, SendResult) and outcome.status == "SENT"
    assert calls == 2
    assert smtp.handler.deliveries == {"busy@example.com": 2}
    assert len(smtp.handler.received) == 1


def test_a_refused_connection_is_retried_and_delivered_once(tmp_path: Path) -> None:
    with FakeSmtp(listening=False) as smtp:
        provider = provider_for(smtp, tmp_path)
        outcome, calls = deliver(provider, email("ana@example.com"), between=smtp.listen)
        assert isinstance(outcome, SendResult) and outcome.status == "SENT"
        assert calls == 2
        assert smtp.handler.deliveries == {"ana@example.com": 1}
        assert len(smtp.handler.received) == 1


def test_no_server_means_nothing_was_sent(tmp_path: Path) -> None:
    closed = SmtpProvider(
        Settings(state_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=9, smtp_security="none")
    )
    with pytest.raises(TransientProviderError) as caught:
        asyncio.run(closed.send(email("ana@example.com")))
    assert caught.value.sent is False
