"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts and
refuses recipients as mail servers do: ``bounce@`` gets 550 5.1.1 (no such
user), ``later@`` gets 451 4.3.0 the first time and is accepted after,
``full@`` gets 552 on DATA, ``busy@`` 451 on DATA the first time (the message
is not taken) and 250 after. ``drop@`` is a network fault: the message is
taken whole, then the connection is dropped before the 250 (the client
cannot know it was accepted).

``FakeSmtp(listening=False)`` refuses connections until :meth:`FakeSmtp.listen`."""

from __future__ import annotations

import asyncio
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
    #: DATA commands whose message was read, per recipient.
    deliveries: Counter[str] = field(default_factory=Counter)

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
        for rcpt in envelope.rcpt_tos:
            self.deliveries[rcpt] += 1
        if any(r.startswith("full@") for r in envelope.rcpt_tos):
            return "552 5.2.2 Mailbox full"
        busy = [r for r in envelope.rcpt_tos if r.startswith("busy@")]
        if busy and self.deliveries[busy[0]] == 1:
            return "451 4.3.0 Queue busy, message not accepted, try again later"
        data = envelope.content
        assert isinstance(data, bytes)
        self.received.append(message_from_bytes(data))
        if any(r.startswith("drop@") for r in envelope.rcpt_tos):
            # Taken, and the answer never leaves: the connection is gone.
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
        return "250 Message accepted for delivery"


class FakeSmtp:
    def __init__(self, *, listening: bool = True) -> None:
        self.handler = RecordingHandler()
        # Outside the ephemeral range: no outgoing connection takes it while
        # the server is not listening yet.
        self.port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._listening = listening
        self._started = False

    def listen(self) -> None:
        """Start accepting connections (no-op if already)."""
        if not self._started:
            self._controller.start()
            self._started = True

    def __enter__(self) -> FakeSmtp:
        if self._listening:
            self.listen()
        return self

    def __exit__(self, *_: object) -> None:
        if self._started:
            self._controller.stop()
