"""Mailgun inbound-route POSTs as Mailgun sends them, signed as its docs say:
hex HMAC-SHA256 of ``timestamp + token`` keyed with the webhook signing key."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from urllib.parse import urlencode

SIGNING_KEY = "key-mailgun-signing"


def mailgun_fields(
    *,
    message_id: str,
    in_reply_to: str | None,
    text: str,
    timestamp: int,
    recipient: str = "cobranza@banco.example",
    key: str = SIGNING_KEY,
) -> dict[str, str]:
    token = secrets.token_hex(25)
    headers = [
        ["From", "Ana <ana@example.com>"],
        ["To", recipient],
        ["Subject", "Re: Su cuota"],
        ["Message-Id", message_id],
    ]
    if in_reply_to:
        headers += [["In-Reply-To", in_reply_to], ["References", in_reply_to]]
    fields = {
        "recipient": recipient,
        "sender": "ana@example.com",
        "from": "Ana <ana@example.com>",
        "subject": "Re: Su cuota",
        "body-plain": text + "\n\nOn Mon, Bank wrote:\n> Your instalment is due",
        "stripped-text": text,
        "message-headers": json.dumps(headers),
        "Message-Id": message_id,
        "timestamp": str(timestamp),
        "token": token,
        "signature": hmac.new(
            key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
        ).hexdigest(),
    }
    if in_reply_to:
        fields["In-Reply-To"] = in_reply_to
        fields["References"] = in_reply_to
    return fields


def urlencoded(fields: dict[str, str]) -> tuple[str, bytes]:
    return "application/x-www-form-urlencoded", urlencode(fields).encode()


def multipart(fields: dict[str, str], attachment: bytes | None = None) -> tuple[str, bytes]:
    boundary = "----mailgun" + secrets.token_hex(8)
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    if attachment is not None:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachment-1"; '
            'filename="recibo.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode()
        out += attachment + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)
