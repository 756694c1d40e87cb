"""An inbound email, read from its MIME bytes into the channel response of
the dispatch it answers."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from connectors.inbound_email.reply import (
    UnreadableEmail,
    Unthreadable,
    read_email,
    reply_response,
    thread_of,
)
from connectors.inbound_email.threads import Thread, message_id, reply_token

KEY = b"k"
DISPATCH = "0b8f3c1e-2a4d-5e6f-8a9b-0c1d2e3f4a5b"
AT = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def reply_bytes(body: str, *, in_reply_to: str | None, html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana <ana@example.com>"
    msg["To"] = "cobranza@banco.example"
    msg["Subject"] = "Re: Su cuota"
    msg["Message-ID"] = "<CAF-reply-1@mail.example.com>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def ours() -> str:
    return message_id(reply_token(DISPATCH, "D-9", KEY), "cobranza@banco.example")


def test_a_reply_is_the_replied_response_of_its_dispatch() -> None:
    raw = reply_bytes("Pago el viernes.\n\nEl lun, Banco escribió:\n> Su cuota", in_reply_to=ours())
    email = read_email(raw)
    assert email.message_id == "<CAF-reply-1@mail.example.com>"
    thread = thread_of(email, KEY)
    assert thread == Thread(DISPATCH, "D-9")
    response = reply_response(thread, email.message_id, email.text, provider="p", source="s", at=AT)
    assert (response.status, response.channel, response.text) == (
        "REPLIED",
        "email",
        "Pago el viernes.",
    )
    assert (response.debtor_id, response.dispatch_id) == ("D-9", DISPATCH)
    again = reply_response(thread, email.message_id, email.text, provider="p", source="s", at=AT)
    assert again.event_id == response.event_id


def test_a_plain_part_is_preferred_and_an_html_only_reply_is_read() -> None:
    both = read_email(reply_bytes("texto", in_reply_to=ours(), html="<p>html</p>"))
    assert both.text == "texto"
    msg = EmailMessage()
    msg["Message-ID"] = "<h@x>"
    msg["In-Reply-To"] = ours()
    msg.set_content("<div>Ya pagu&eacute;</div><blockquote>cita</blockquote>", subtype="html")
    assert read_email(msg.as_bytes()).text == "Ya pagué"


def test_a_whole_message_keyword_is_an_opt_out() -> None:
    email = read_email(reply_bytes("BAJA", in_reply_to=ours()))
    response = reply_response(
        thread_of(email, KEY), email.message_id, email.text, provider="p", source="s", at=AT
    )
    assert response.status == "OPTED_OUT"


def test_an_email_naming_no_dispatch_is_unthreadable() -> None:
    email = read_email(reply_bytes("hola", in_reply_to="<x@elsewhere.example>"))
    with pytest.raises(Unthreadable, match="answers no dispatch"):
        thread_of(email, KEY)


def test_an_email_without_a_message_id_gets_one_from_its_bytes() -> None:
    raw = b"From: a@example.com\r\nIn-Reply-To: " + ours().encode() + b"\r\n\r\nok\r\n"
    assert read_email(raw).message_id == read_email(raw).message_id
    assert read_email(raw).message_id.startswith("<sha256.")


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"just some text with no header"])
def test_what_is_not_an_email_is_unreadable(raw: bytes) -> None:
    with pytest.raises(UnreadableEmail):
        read_email(raw)
