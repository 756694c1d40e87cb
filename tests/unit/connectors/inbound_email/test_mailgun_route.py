"""``POST /mailgun/inbound`` without a server or a broker: the signature
checked first, the reply threaded to its dispatch, a replay recorded once, a
stale timestamp refused, an unthreadable email dead-lettered."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.inbound_email.threads import message_id, reply_token
from connectors.webhooks.app import Request, WebhookApp
from recaudo.contracts.records import ChannelResponse, DeadLetter
from recaudo.settings import Settings
from tests.unit.connectors.inbound_email.mailgun_forms import (
    SIGNING_KEY,
    mailgun_fields,
    multipart,
    urlencoded,
)

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
THREAD_KEY = "thread-key"
DISPATCH = "0b8f3c1e-2a4d-5e6f-8a9b-0c1d2e3f4a5b"


class Memory:
    def __init__(self) -> None:
        self.published: list[ChannelResponse] = []
        self.dead: list[DeadLetter] = []
        self.seen: dict[str, datetime] = {}

    def publish(self, responses: Sequence[ChannelResponse]) -> bool:
        self.published.extend(responses)
        return True

    def dead_letter(self, letter: DeadLetter) -> bool:
        self.dead.append(letter)
        return True

    def seen_deliveries(self, keys: Collection[str], since: datetime) -> set[str]:
        return {k for k in keys if k in self.seen and self.seen[k] >= since}

    def record_deliveries(self, keys: Collection[str], at: datetime) -> None:
        self.seen.update(dict.fromkeys(keys, at))

    def forget_deliveries(self, before: datetime) -> int:
        return 0


@pytest.fixture
def memory() -> Memory:
    return Memory()


@pytest.fixture
def app(memory: Memory, tmp_path: Path) -> WebhookApp:
    settings = Settings(
        state_dir=tmp_path,
        mailgun_signing_key=SecretStr(SIGNING_KEY),
        email_thread_key=SecretStr(THREAD_KEY),
    )
    return WebhookApp(
        settings,
        resolver=None,  # type: ignore[arg-type]  # a threaded email needs no lookup
        publish=memory.publish,
        clock=lambda: NOW,
        deliveries=memory,
        dead_letter=memory.dead_letter,
    )


def ours(debtor_id: str = "D-7") -> str:
    return message_id(reply_token(DISPATCH, debtor_id, THREAD_KEY.encode()), "c@banco.example")


def post(app: WebhookApp, form: tuple[str, bytes]) -> int:
    content_type, body = form
    return app.handle(
        Request("POST", "/mailgun/inbound", "", {"content-type": content_type}, body)
    ).status


def fields(**overrides: object) -> dict[str, str]:
    values: dict[str, object] = {
        "message_id": "<CAF-1@mail.example.com>",
        "in_reply_to": ours(),
        "text": "Pago el viernes",
        "timestamp": int(NOW.timestamp()) - 30,
    }
    values.update(overrides)
    return mailgun_fields(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("encode", [urlencoded, multipart], ids=["urlencoded", "multipart"])
def test_a_signed_reply_is_one_replied_response_of_its_dispatch(
    app: WebhookApp, memory: Memory, encode: object
) -> None:
    form = fields()
    assert post(app, encode(form)) == 200  # type: ignore[operator]
    [response] = memory.published
    assert (response.status, response.channel, response.provider) == ("REPLIED", "email", "mailgun")
    assert (response.debtor_id, response.dispatch_id) == ("D-7", DISPATCH)
    assert response.text == "Pago el viernes"
    assert response.provider_message_id == "<CAF-1@mail.example.com>"


def test_attachments_are_left_out(app: WebhookApp, memory: Memory) -> None:
    assert post(app, multipart(fields(), attachment=b"%PDF-1.4\x00\xff")) == 200
    assert [r.text for r in memory.published] == ["Pago el viernes"]


def test_a_wrong_signature_is_refused_before_anything_is_read(
    app: WebhookApp, memory: Memory
) -> None:
    assert (
        post(
            app,
            urlencoded(
                mailgun_fields(
                    message_id="<x@y>",
                    in_reply_to=ours(),
                    text="hola",
                    timestamp=int(NOW.timestamp()),
                    key="not-the-key",
                )
            ),
        )
        == 401
    )
    unsigned = fields()
    del unsigned["signature"]
    assert post(app, urlencoded(unsigned)) == 401
    assert memory.published == [] and memory.dead == []


def test_the_same_post_again_is_recorded_once(app: WebhookApp, memory: Memory) -> None:
    form = urlencoded(fields())
    assert post(app, form) == 200
    assert post(app, form) == 200
    # Mailgun retries with a new token and timestamp: the same email still.
    assert post(app, urlencoded(fields())) == 200
    assert len(memory.published) == 1


def test_a_timestamp_older_than_the_replay_window_is_refused(
    app: WebhookApp, memory: Memory
) -> None:
    old = NOW - timedelta(seconds=app.settings.webhooks_replay_window_s + 60)
    assert post(app, urlencoded(fields(timestamp=int(old.timestamp())))) == 403
    assert memory.published == []


def test_a_reply_naming_no_dispatch_is_dead_lettered_with_its_post(
    app: WebhookApp, memory: Memory
) -> None:
    form = urlencoded(fields(in_reply_to="<other@elsewhere.example>"))
    assert post(app, form) == 200
    assert memory.published == []
    [letter] = memory.dead
    assert letter.value == form[1]
    assert "answers no dispatch" in letter.error_message
    assert letter.source_topic == "http:mailgun-inbound"


def test_a_token_signed_with_another_key_threads_nothing(app: WebhookApp, memory: Memory) -> None:
    forged = message_id(reply_token(DISPATCH, "D-victim", b"guessed"), "c@banco.example")
    assert post(app, urlencoded(fields(in_reply_to=forged))) == 200
    assert memory.published == [] and len(memory.dead) == 1


def test_not_configured_is_404(memory: Memory, tmp_path: Path) -> None:
    app = WebhookApp(Settings(state_dir=tmp_path), None, memory.publish)  # type: ignore[arg-type]
    assert post(app, urlencoded(fields())) == 404
