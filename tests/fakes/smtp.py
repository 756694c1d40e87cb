"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts and
refuses recipients as mail servers do: ``bounce@`` gets 550 5.1.1 (no such
user), ``later@`` gets 451 4.3.0 the first time and is accepted after,
``full@`` gets 552 on DATA."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from recaudo.embedded.ports import free_port


@dataclass
class RecordingHandler:
    received: list[Message] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        self.attempts[address] += 1
        local = address.partition("@")[0]
        if local == "bounce":
            return "550 5.1.1 <" + address + ">: Recipient address rejected: no such user"
        if local == "later" and self.attempts[address] == 1:
            return "451 4.3.0 Temporary lookup failure, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if any(r.startswith("full@") for r in envelope.rcpt_tos):
            return "552 5.2.2 Mailbox full"
        data = envelope.content
        assert isinstance(data, bytes)
        self.received.append(message_from_bytes(data))
        return "250 Message accepted for delivery"


class FakeSmtp:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> FakeSmtp:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()
