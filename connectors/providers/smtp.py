"""Email over SMTP (aiosmtplib: asyncio-native, so a connector's concurrent
sends need no thread per connection).

Each send opens its own session (STARTTLS or implicit TLS, then AUTH if a
username is set); at most ``provider_max_connections`` run at once. SMTP has
no idempotency key, so the message's ``Message-ID`` is derived from the
dispatch (its reply token, see ``connectors.inbound_email.threads``): a send
repeated would carry the same id, but mail servers deliver it again all the
same (``deduplicates`` is False), and a reply's In-Reply-To names the dispatch
and debtor it answers. With ``email_reply_to`` set, the Reply-To carries the
same token as a plus-address.

A 5xx refusal of the recipient is a bounce; other 5xx answers are permanent
failures; 4xx answers, timeouts and dropped connections are transient. Until
the message content is sent (connect, TLS, AUTH, MAIL, RCPT) a failure leaves
the server without it, and a 4xx answer at any step means it did not take the
message (RFC 5321): both are retried. A timeout or a dropped connection once
the DATA command is sent may leave the server with the message (the 250 that
says so was lost): the outcome is unknown and the connector does not resend.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

import aiosmtplib
from aiosmtplib import SMTPResponse
from aiosmtplib.typing import Default

from connectors.inbound_email import threads
from connectors.providers.base import (
    ClosesAsync,
    OutboundMessage,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
)
from connectors.providers.redact import redact
from recaudo.contracts.records import Channel
from recaudo.settings import Settings


class _Session(aiosmtplib.SMTP):
    """An SMTP session that knows whether the message content went out."""

    data_sent = False

    async def data(
        self,
        message: str | bytes,
        /,
        *,
        timeout: float | Literal[Default.token] | None = Default.token,
    ) -> SMTPResponse:
        self.data_sent = True
        return await super().data(message, timeout=timeout)


class SmtpProvider(ClosesAsync):
    def __init__(self, settings: Settings) -> None:
        self.name = "smtp"
        self.channel: Channel = "email"
        self._settings = settings
        self._thread_key = threads.thread_key(settings)
        self._slots = asyncio.Semaphore(settings.provider_max_connections)
        self.max_calls = settings.provider_max_connections
        self.deduplicates = False

    def compose(self, msg: OutboundMessage) -> EmailMessage:
        s = self._settings
        email = EmailMessage()
        email["From"] = s.smtp_from
        email["To"] = msg.address
        email["Subject"] = msg.subject or msg.template
        email["Date"] = formatdate(localtime=False)
        token = threads.reply_token(msg.dispatch_id, msg.debtor_id, self._thread_key)
        email["Message-ID"] = threads.message_id(token, s.smtp_from)
        if s.email_reply_to:
            email["Reply-To"] = threads.reply_address(s.email_reply_to, token) or s.email_reply_to
        email["Content-Language"] = msg.locale
        email["X-Recaudo-Dispatch-Id"] = msg.dispatch_id
        email.set_content(msg.body)
        return email

    async def send(self, msg: OutboundMessage) -> SendResult:
        s = self._settings
        email = self.compose(msg)
        session = _Session(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            timeout=s.provider_timeout_s,
        )
        async with self._slots:
            try:
                async with session:
                    await session.send_message(email)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0]
                raise _classify(refused.code, refused.message, msg.address, recipient=True) from exc
            except aiosmtplib.SMTPRecipientRefused as exc:
                raise _classify(exc.code, exc.message, msg.address, recipient=True) from exc
            except aiosmtplib.SMTPResponseException as exc:
                raise _classify(exc.code, exc.message, msg.address, recipient=False) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                if session.data_sent:
                    raise TransientProviderError(
                        f"smtp: connection lost after DATA: {type(exc).__name__}",
                        "SMTP_AFTER_DATA",
                    ) from exc
                raise TransientProviderError(
                    f"smtp: {type(exc).__name__}", "SMTP_CONNECTION", sent=False
                ) from exc
        return SendResult(status="SENT", provider_message_id=email["Message-ID"])


def _classify(
    code: int, text: str, address: str, *, recipient: bool
) -> TransientProviderError | PermanentProviderError:
    message = f"smtp {code}: {redact(text, address)}"
    if 400 <= code < 500:
        return TransientProviderError(message, f"SMTP_{code}", sent=False)
    return PermanentProviderError(message, f"SMTP_{code}", bounced=recipient and code >= 500)
