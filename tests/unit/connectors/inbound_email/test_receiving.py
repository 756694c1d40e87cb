"""What the SMTP receiver answers for each email, apart from SMTP and Kafka:
250 only once the outcome is safe, 451 when it is not, a replay recorded once,
an unthreadable email dead-lettered (or refused when too large to keep)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.inbound_email.receiver import DEAD_LETTER_MAX_BYTES, InboundEmails
from connectors.inbound_email.threads import message_id, reply_token
from recaudo.contracts.records import ChannelResponse, DeadLetter
from recaudo.settings import Settings
from tests.unit.connectors.inbound_email.test_mailgun_route import Memory

KEY = "k"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


class Forgetting(Memory):
    def __init__(self) -> None:
        super().__init__()
        self.forgot: list[datetime] = []
        self.publish_ok = True
        self.dead_letter_ok = True

    def publish(self, responses: Sequence[ChannelResponse]) -> bool:
        return self.publish_ok and super().publish(responses)

    def dead_letter(self, letter: DeadLetter) -> bool:
        return self.dead_letter_ok and super().dead_letter(letter)

    def forget_deliveries(self, before: datetime) -> int:
        self.forgot.append(before)
        return 0


@pytest.fixture
def store() -> Forgetting:
    return Forgetting()


@pytest.fixture
def emails(store: Forgetting, tmp_path: Path) -> InboundEmails:
    settings = Settings(state_dir=tmp_path, email_thread_key=SecretStr(KEY))
    return InboundEmails(settings, store.publish, store.dead_letter, store, clock=lambda: NOW)


def email(in_reply_to: str, body: str = "Pago el viernes", mid: str = "<r1@x>") -> bytes:
    msg = EmailMessage()
    msg["From"] = "ana@example.com"
    msg["Message-ID"] = mid
    msg["In-Reply-To"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes()


OURS = message_id(reply_token("disp-1", "D-1", KEY.encode()), "c@banco.example")


def test_a_reply_is_published_then_remembered_and_a_repeat_is_not_published(
    emails: InboundEmails, store: Forgetting
) -> None:
    assert emails.receive(email(OURS), []).startswith("250 ")
    assert emails.receive(email(OURS), []).startswith("250 ")
    assert [(r.debtor_id, r.dispatch_id, r.text) for r in store.published] == [
        ("D-1", "disp-1", "Pago el viernes")
    ]
    window = timedelta(seconds=emails.settings.webhooks_replay_window_s)
    assert store.forgot == [NOW - window]


def test_not_on_the_topic_is_451_and_not_remembered(
    emails: InboundEmails, store: Forgetting
) -> None:
    store.publish_ok = False
    assert emails.receive(email(OURS), []).startswith("451 ")
    assert store.seen == {}
    store.publish_ok = True
    assert emails.receive(email(OURS), []).startswith("250 ")
    assert len(store.published) == 1


def test_unthreadable_is_dead_lettered_and_451_if_that_fails(
    emails: InboundEmails, store: Forgetting
) -> None:
    store.dead_letter_ok = False
    assert emails.receive(email("<x@elsewhere>"), []).startswith("451 ")
    store.dead_letter_ok = True
    raw = email("<x@elsewhere>")
    assert emails.receive(raw, []).startswith("250 ")
    [letter] = store.dead
    assert letter.value == raw and letter.error_type == "PROCESSING_ERROR"
    assert store.published == []


def test_unreadable_is_dead_lettered_as_a_decode_error(
    emails: InboundEmails, store: Forgetting
) -> None:
    assert emails.receive(b"\r\n\r\n", []).startswith("250 ")
    [letter] = store.dead
    assert letter.error_type == "DECODE_ERROR"


def test_unthreadable_too_large_for_a_dead_letter_is_refused(
    emails: InboundEmails, store: Forgetting
) -> None:
    big = email("<x@elsewhere>", body="x" * (DEAD_LETTER_MAX_BYTES + 1))
    assert emails.receive(big, []).startswith("552 ")
    assert store.dead == []


def test_the_envelope_recipient_plus_address_threads(
    emails: InboundEmails, store: Forgetting
) -> None:
    token = reply_token("disp-2", "D-2", KEY.encode())
    assert emails.receive(email("<x@elsewhere>"), [f"replies+{token}@banco.example"]).startswith(
        "250 "
    )
    assert [r.dispatch_id for r in store.published] == ["disp-2"]
