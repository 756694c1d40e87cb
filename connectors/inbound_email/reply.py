"""An inbound email read into a channel response: pure functions, no I/O.

:func:`read_email` parses the MIME message (stdlib ``email``, modern policy)
into what threading needs and the reply's own text; :func:`reply_response`
makes the REPLIED (or OPTED_OUT, for a whole-message opt-out keyword, as on
SMS and WhatsApp) response of the dispatch it answers, or raises
:class:`Unthreadable`.

The response's ``event_id`` comes from the dispatch and the email's
``Message-ID``: the same email delivered again is the same event.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses

from connectors.inbound_email.quotes import html_text, strip_reply
from connectors.inbound_email.threads import Thread, find_thread, message_ids
from connectors.service import response_id
from connectors.webhooks.mapping import is_opt_out
from recaudo.contracts.records import ChannelResponse, DeadLetter, DeadLetterErrorType

SOURCE = "recaudo.inbound-email"
#: What a dead letter of an email received over SMTP names as where it came from.
ORIGIN = "smtp:inbound-email"
DEAD_LETTER_NAMESPACE = uuid.UUID("1d7c2b4e-93f0-4a51-8e26-5f0b9c3d7a18")


def email_dead_letter(
    raw: bytes,
    message_id: str | None,
    reason: str,
    error_type: DeadLetterErrorType,
    at: datetime,
    *,
    source: str,
    origin: str,
) -> DeadLetter:
    """A dead letter holding the email's raw bytes and why it was not recorded;
    the same email given up on again is the same dead letter."""
    identity = message_id or uuid.uuid5(DEAD_LETTER_NAMESPACE, raw.hex()).hex
    return DeadLetter(
        event_id=uuid.uuid5(DEAD_LETTER_NAMESPACE, identity),
        occurred_at=at,
        source=source,
        source_topic=origin,
        source_partition=0,
        source_offset=0,
        key=message_id.encode() if message_id else None,
        value=raw,
        error_type=error_type,
        error_message=reason,
    )


class UnreadableEmail(ValueError):
    """Not a MIME message recaudo can read."""


class Unthreadable(ValueError):
    """An email that names no dispatch recaudo sent (no valid reply token)."""


@dataclass(frozen=True, slots=True)
class InboundEmail:
    #: Its Message-ID; a hash of its bytes when it has none.
    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    #: Envelope recipients and To/Cc/Delivered-To (where a plus-address may be).
    recipients: tuple[str, ...]
    #: What the debtor wrote: quotes and signature stripped.
    text: str


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot fold (policy.default raises late)
        return ""
    return str(value) if value is not None else ""


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return html_text(content) if part.get_content_subtype() == "html" else content


def read_email(raw: bytes, envelope_recipients: Sequence[str] = ()) -> InboundEmail:
    if not raw.strip():
        raise UnreadableEmail("empty message")
    message = message_from_bytes(raw, policy=policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise UnreadableEmail("no headers: not an RFC 5322 message")
    own_ids = message_ids(_header(message, "Message-ID"))
    mid = own_ids[0] if own_ids else "<sha256." + hashlib.sha256(raw).hexdigest() + ">"
    addresses = [
        address
        for _, address in getaddresses(
            [_header(message, name) for name in ("To", "Cc", "Delivered-To")]
        )
        if address
    ]
    return InboundEmail(
        message_id=mid,
        in_reply_to=tuple(message_ids(_header(message, "In-Reply-To"))),
        references=tuple(message_ids(_header(message, "References"))),
        recipients=(*envelope_recipients, *addresses),
        text=strip_reply(_body(message)),
    )


def thread_of(email: InboundEmail, key: bytes | None) -> Thread:
    found = find_thread(email.in_reply_to, email.references, email.recipients, key)
    if found is None:
        raise Unthreadable(
            f"email {email.message_id} answers no dispatch: no recaudo reply token in its "
            "In-Reply-To, References or recipient plus-address (or one whose signature does "
            "not match RECAUDO_EMAIL_THREAD_KEY)"
        )
    return found


def reply_response(
    thread: Thread,
    message_id: str,
    text: str,
    *,
    provider: str,
    source: str,
    at: datetime,
) -> ChannelResponse:
    status = "OPTED_OUT" if is_opt_out(text) else "REPLIED"
    return ChannelResponse(
        event_id=response_id(thread.dispatch_id, status, message_id),
        occurred_at=at,
        source=source,
        debtor_id=thread.debtor_id,
        dispatch_id=thread.dispatch_id,
        channel="email",
        status=status,
        provider=provider,
        provider_message_id=message_id,
        text=text or None,
    )
