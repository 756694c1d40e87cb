"""Which dispatch an email reply answers, without a lookup.

Every collection email carries a *reply token*: the dispatch id and the
debtor id, packed, with an HMAC tag keyed by ``Settings.email_thread_key``,
in base32 (lower case: mail systems may fold the case of addresses). It is
in the email's ``Message-ID`` (``<r.TOKEN@domain>``), which a mail client
copies into the reply's ``In-Reply-To`` and ``References``, and, when
``Settings.email_reply_to`` is set, in its ``Reply-To`` plus-address
(``replies+TOKEN@domain``), which survives a client that drops those headers.

A token whose tag does not verify is ignored, so a forged reply cannot be
attributed to a debtor. The same dispatch always gets the same token, so the
Message-ID of a repeated send is the same too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from recaudo.process.secret_keys import installation_key
from recaudo.settings import Settings

#: Bytes of HMAC-SHA256 kept: 48 bits, enough that a guessed token fails.
TAG_BYTES = 6
#: RFC 5321: a local part is at most 64 octets; a longer plus-address is not used.
MAX_LOCAL_PART = 64
#: Where a key is kept when none is configured (under the state directory).
KEY_FILE = Path("secrets") / "email-thread.key"

_UUID_DISPATCH = 1
_TEXT_DISPATCH = 2
_MESSAGE_ID = re.compile(r"<?r\.([a-z2-7]+)@[^>\s]*>?", re.IGNORECASE)
_MSG_IDS = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True, slots=True)
class Thread:
    dispatch_id: str
    debtor_id: str


def _key(key: bytes | None) -> bytes:
    if not key:
        raise ValueError("a reply token needs a key: see thread_key()")
    return key


def thread_key(settings: Settings) -> bytes:
    """The HMAC key of reply tokens: ``RECAUDO_EMAIL_THREAD_KEY`` when set, else
    a random key made once for this installation and kept in the state
    directory, shared by every process that uses it (replicas on other
    machines must set the variable to one value)."""
    return installation_key(
        settings.email_thread_key,
        settings.state_dir,
        KEY_FILE,
        when_empty="replies to earlier emails will not thread",
    )


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded)


def _pack(dispatch_id: str, debtor_id: str) -> bytes:
    try:
        parsed = uuid.UUID(dispatch_id)
    except ValueError:
        parsed = None
    if parsed is not None and str(parsed) == dispatch_id:
        head = bytes([_UUID_DISPATCH]) + parsed.bytes
    else:
        raw = dispatch_id.encode()
        if len(raw) > 255:
            raise ValueError(f"dispatch id longer than 255 bytes: {dispatch_id[:40]!r}…")
        head = bytes([_TEXT_DISPATCH, len(raw)]) + raw
    return head + debtor_id.encode()


def _unpack(payload: bytes) -> Thread | None:
    if not payload:
        return None
    if payload[0] == _UUID_DISPATCH and len(payload) > 17:
        return Thread(str(uuid.UUID(bytes=payload[1:17])), payload[17:].decode())
    if payload[0] == _TEXT_DISPATCH and len(payload) > 2:
        size = payload[1]
        rest = payload[2 + size :]
        if len(payload) < 2 + size or not rest:
            return None
        return Thread(payload[2 : 2 + size].decode(), rest.decode())
    return None


def reply_token(dispatch_id: str, debtor_id: str, key: bytes | None) -> str:
    payload = _pack(dispatch_id, debtor_id)
    tag = hmac.new(_key(key), payload, hashlib.sha256).digest()[:TAG_BYTES]
    return _b32(payload + tag)


def read_token(token: str, key: bytes | None) -> Thread | None:
    """The thread a token names; None if it is not one or its tag is wrong."""
    try:
        raw = _unb32(token)
    except (ValueError, TypeError):
        return None
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    expected = hmac.new(_key(key), payload, hashlib.sha256).digest()[:TAG_BYTES]
    if len(raw) <= TAG_BYTES or not hmac.compare_digest(tag, expected):
        return None
    try:
        return _unpack(payload)
    except (ValueError, UnicodeDecodeError):
        return None


def message_id(token: str, sender: str) -> str:
    domain = sender.rpartition("@")[2].strip("<> ") or "recaudo.invalid"
    return f"<r.{token}@{domain}>"


def reply_address(reply_to: str, token: str) -> str | None:
    """``local+TOKEN@domain``; None when that is longer than a local part may be."""
    local, at, domain = reply_to.partition("@")
    if not at:
        raise ValueError(f"email_reply_to {reply_to!r} is not an address: give local@domain")
    plus = f"{local}+{token}"
    return f"{plus}@{domain}" if len(plus) <= MAX_LOCAL_PART else None


def message_ids(header: str | None) -> list[str]:
    """The ``<…>`` ids of an In-Reply-To or References header, in order."""
    return _MSG_IDS.findall(header or "")


def find_thread(
    in_reply_to: Iterable[str],
    references: Iterable[str],
    recipients: Iterable[str],
    key: bytes | None,
) -> Thread | None:
    """The dispatch a reply answers: its In-Reply-To first, then its
    References, newest first, then a plus-address among its recipients."""
    for mid in (*in_reply_to, *reversed(list(references))):
        match = _MESSAGE_ID.fullmatch(mid.strip())
        if match:
            found = read_token(match.group(1), key)
            if found is not None:
                return found
    for address in recipients:
        local = address.strip().strip("<>").rpartition("@")[0]
        _, plus, token = local.partition("+")
        if plus:
            found = read_token(token, key)
            if found is not None:
                return found
    return None
