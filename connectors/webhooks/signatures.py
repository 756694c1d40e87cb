"""The HMAC signatures providers put on their webhooks, and recaudo on its own.

* Twilio ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed with the auth token,
  of the full URL Twilio called followed by every POST parameter as
  name + value, names sorted (a repeated name: its distinct values sorted, as
  Twilio's own validator does).
* Meta ``X-Hub-Signature-256``: ``sha256=`` + hex HMAC-SHA256 of the raw body,
  keyed with the app secret.
* recaudo's webhook channel ``X-Recaudo-Signature``: ``sha256=`` + hex
  HMAC-SHA256 of ``"{timestamp}." + body``, keyed with the shared secret.

Every comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence


def twilio_signature(auth_token: str, url: str, params: Mapping[str, Sequence[str]]) -> str:
    payload = url + "".join(
        name + value for name in sorted(params) for value in sorted(set(params[name]))
    )
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio(
    auth_token: str, url: str, params: Mapping[str, Sequence[str]], signature: str | None
) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(twilio_signature(auth_token, url, params), signature)


def meta_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_meta(app_secret: str, body: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(meta_signature(app_secret, body), signature)


def webhook_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return (
        "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )


def verify_webhook(secret: bytes, timestamp: str, body: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), signature)


def constant_time_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
