"""Portal tokens: opaque, signed, expiring, single-purpose.

A token carries the debtor id, the dispatch the link came in (and its
channel), the account the offers are about (empty: every open account), the
offer a choice is for, its purpose and its expiry. It is *encrypted*, not
merely signed: the URL shows nothing of the debtor (not even their id) to
whoever sees it in a proxy log or over a shoulder, and no table has to be
written when a message is rendered (a reference would need one, inside the
orchestrator's pure decision).

Construction (a synthetic IV, as in RFC 5297, with HMAC-SHA256 as the PRF):
``tag = HMAC(mac_key, header || plaintext)[:16]``, ``ciphertext =
AES-256-CTR(enc_key, iv=tag)(plaintext)``, token = base64url(header || tag ||
ciphertext). Verification decrypts, recomputes the tag and compares in
constant time, so changing any byte (header, tag or ciphertext) is refused.
The same fields always give the same token: a redelivered dispatch renders
the same message. Both keys are derived from the one portal key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from recaudo.process.secret_keys import installation_key
from recaudo.settings import Settings

#: ``open``: the link in a message (see the page); ``choose``: one offer's
#: form on that page (settle with it).
Purpose = Literal["open", "choose"]
PURPOSES: Final[tuple[Purpose, ...]] = ("open", "choose")
CHANNELS: Final = ("sms", "email", "whatsapp", "voice")

FORMAT: Final = 1
TAG_BYTES: Final = 16
#: Where a key is kept when none is configured (under the state directory).
KEY_FILE: Final = Path("secrets") / "portal.key"
_FIXED = struct.Struct(">BBBQ")  # purpose, channel, reserved, expires_at (UTC ms)

Refusal = Literal["malformed", "tampered", "expired", "wrong_purpose"]


class TokenRefused(ValueError):
    """A token that must not be honoured, and why (``reason``)."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason)
        self.reason: Refusal = reason


@dataclass(frozen=True, slots=True)
class PortalToken:
    debtor_id: str
    dispatch_id: str
    channel: str
    purpose: Purpose
    #: UTC milliseconds; the token is refused from then on
    expires_at: int
    #: the account the offers are about; empty: every open account
    account_id: str = ""
    #: ``choose`` only: the offer this form settles with
    offer_id: str = ""

    @property
    def link_id(self) -> str:
        """The link this token belongs to (one choice per link)."""
        return hashlib.sha256(f"{self.debtor_id}\x1f{self.dispatch_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Keys:
    enc: bytes
    mac: bytes

    @classmethod
    def derive(cls, secret: bytes) -> Keys:
        if not secret:
            raise ValueError("the portal key is empty: set RECAUDO_PORTAL_KEY or delete the file")
        return cls(
            hmac.new(secret, b"recaudo-portal/enc", hashlib.sha256).digest(),
            hmac.new(secret, b"recaudo-portal/mac", hashlib.sha256).digest(),
        )


def portal_key(settings: Settings) -> bytes:
    """``RECAUDO_PORTAL_KEY`` when set, else a random key made once for this
    installation and kept in the state directory (replicas on other machines
    must set the variable to one value)."""
    return installation_key(
        settings.portal_key,
        settings.state_dir,
        KEY_FILE,
        when_empty="links already sent stop working",
    )


def _text(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 255:
        raise ValueError(f"a portal token field is longer than 255 bytes: {value[:40]!r}…")
    return bytes([len(raw)]) + raw


def _pack(token: PortalToken) -> bytes:
    head = _FIXED.pack(
        PURPOSES.index(token.purpose), CHANNELS.index(token.channel), 0, token.expires_at
    )
    fields = (token.debtor_id, token.dispatch_id, token.account_id, token.offer_id)
    return head + b"".join(_text(f) for f in fields)


def _unpack(plain: bytes) -> PortalToken:
    purpose, channel, reserved, expires = _FIXED.unpack_from(plain)
    if purpose >= len(PURPOSES) or channel >= len(CHANNELS) or reserved:
        raise ValueError("unknown purpose or channel")
    at, fields = _FIXED.size, []
    for _ in range(4):
        size = plain[at]
        fields.append(plain[at + 1 : at + 1 + size].decode())
        at += 1 + size
    if at != len(plain) or not fields[0] or not fields[1]:
        raise ValueError("trailing bytes or empty ids")
    return PortalToken(
        debtor_id=fields[0],
        dispatch_id=fields[1],
        channel=CHANNELS[channel],
        purpose=PURPOSES[purpose],
        expires_at=expires,
        account_id=fields[2],
        offer_id=fields[3],
    )


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    codec = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return codec.update(data) + codec.finalize()


def _tag(keys: Keys, header: bytes, plain: bytes) -> bytes:
    return hmac.new(keys.mac, header + plain, hashlib.sha256).digest()[:TAG_BYTES]


def mint(token: PortalToken, keys: Keys) -> str:
    """The token's text, URL-safe; the same for the same fields and key."""
    header = bytes([FORMAT])
    plain = _pack(token)
    tag = _tag(keys, header, plain)
    raw = header + tag + _ctr(keys.enc, tag, plain)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def verify(text: str, keys: Keys, purpose: Purpose, now_ms: int) -> PortalToken:
    """The token ``text`` names, if it was minted with ``keys`` for
    ``purpose`` and has not expired at ``now_ms``; else TokenRefused."""
    if not text or len(text) > 1024:
        raise TokenRefused("malformed")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise TokenRefused("malformed") from None
    # Only the canonical spelling: padding bits or stray characters make another text.
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != text:
        raise TokenRefused("malformed")
    if len(raw) < 1 + TAG_BYTES + _FIXED.size or raw[0] != FORMAT:
        raise TokenRefused("tampered" if len(raw) > TAG_BYTES else "malformed")
    header, tag, body = raw[:1], raw[1 : 1 + TAG_BYTES], raw[1 + TAG_BYTES :]
    plain = _ctr(keys.enc, tag, body)
    if not hmac.compare_digest(tag, _tag(keys, header, plain)):
        raise TokenRefused("tampered")
    try:
        token = _unpack(plain)
    except (ValueError, IndexError, UnicodeDecodeError, struct.error):
        raise TokenRefused("malformed") from None
    if token.purpose != purpose:
        raise TokenRefused("wrong_purpose")
    if now_ms >= token.expires_at:
        raise TokenRefused("expired")
    return token
