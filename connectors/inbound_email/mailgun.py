"""Mailgun inbound routes (``forward("https://…/mailgun/inbound")``), read
into a reply: pure functions, no I/O.

Mailgun POSTs the parsed email, ``application/x-www-form-urlencoded``, or
``multipart/form-data`` when it has attachments (which are ignored here),
with ``timestamp``, ``token`` and ``signature``: the hex HMAC-SHA256 of
``timestamp + token`` keyed with the account's HTTP webhook signing key.
The email's headers come as fields of their own (``Message-Id``,
``In-Reply-To``, ``References``) and all together in ``message-headers``
(a JSON list of ``[name, value]``); the text in ``body-plain`` and, without
the quoted part, in ``stripped-text``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from urllib.parse import parse_qs

from connectors.inbound_email.quotes import strip_reply
from connectors.inbound_email.threads import message_ids

Form = Mapping[str, Sequence[str]]


class BadForm(ValueError):
    """A POST that is not a Mailgun inbound form."""


def signature(signing_key: str, timestamp: str, token: str) -> str:
    return hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def verify(signing_key: str, form: Form) -> bool:
    timestamp, token, given = (_one(form, name) for name in ("timestamp", "token", "signature"))
    if not (timestamp and token and given):
        return False
    return hmac.compare_digest(signature(signing_key, timestamp, token), given)


def parse_form(content_type: str, body: bytes) -> dict[str, list[str]]:
    """The fields of a urlencoded or multipart/form-data body (files left out)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        if not message.is_multipart():
            raise BadForm("multipart/form-data without parts (boundary missing?)")
        fields: dict[str, list[str]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str) or part.get_filename() is not None:
                continue
            payload = part.get_payload(decode=True)
            value = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            fields.setdefault(name, []).append(value)
        return fields
    if kind in ("application/x-www-form-urlencoded", ""):
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    raise BadForm(f"content type {kind!r}: Mailgun posts a form")


def _one(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


@dataclass(frozen=True, slots=True)
class MailgunReply:
    message_id: str
    signed_at: datetime
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    recipients: tuple[str, ...]
    text: str


def _headers(form: Form) -> dict[str, str]:
    """The email's headers, lower-cased names: ``message-headers``, then the
    fields of their own (what Mailgun posts for each header)."""
    found: dict[str, str] = {}
    try:
        listed = json.loads(_one(form, "message-headers") or "[]")
    except ValueError:
        listed = []
    for pair in listed if isinstance(listed, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
            found.setdefault(pair[0].lower(), pair[1])
    for name in ("Message-Id", "In-Reply-To", "References", "To", "Cc"):
        value = _one(form, name)
        if value:
            found[name.lower()] = value
    return found


def read_reply(form: Form) -> MailgunReply:
    """The reply in a verified form; BadForm if it lacks what every one has."""
    timestamp = _one(form, "timestamp") or ""
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadForm(f"timestamp {timestamp[:20]!r} is not Unix seconds") from exc
    headers = _headers(form)
    own = message_ids(headers.get("message-id"))
    if not own:
        raise BadForm("no Message-Id")
    recipients = [
        address
        for _, address in getaddresses(
            [*(form.get("recipient") or []), headers.get("to", ""), headers.get("cc", "")]
        )
        if address
    ]
    text = _one(form, "stripped-text") or _one(form, "body-plain") or ""
    return MailgunReply(
        message_id=own[0],
        signed_at=signed_at,
        in_reply_to=tuple(message_ids(headers.get("in-reply-to"))),
        references=tuple(message_ids(headers.get("references"))),
        recipients=tuple(recipients),
        text=strip_reply(text),
    )
