"""Agents' password hashes: scrypt with a random salt per agent, in one
self-describing string (``scrypt$n$r$p$salt$hash``, base64) kept in
``RECAUDO_DESK_AGENTS``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

SCHEME: Final = "scrypt"
#: scrypt cost (2^14, r 8, p 1: about 16 MiB and tens of milliseconds a check)
N: Final = 2**14
R: Final = 8
P: Final = 1
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32
#: the largest cost a stored hash may ask for (a bigger one is refused, not run)
MAX_N: Final = 2**20


class PasswordHashError(ValueError):
    """A stored hash that is not one ``recaudo desk hash-password`` makes."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES, maxmem=256 * 2**20
    )


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The stored form of ``password``, with a fresh random salt unless given."""
    if not password:
        raise ValueError("an empty password cannot be hashed: choose one")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = _scrypt(password, salt, N, R, P)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, hash) of a stored hash; PasswordHashError if it is not one."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise PasswordHashError(
            "not a desk password hash (scrypt$n$r$p$salt$hash): make one with "
            "`recaudo desk hash-password`"
        )
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except ValueError as exc:
        raise PasswordHashError(f"desk password hash is damaged ({exc}): make it again") from None
    if not (2 <= n <= MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        raise PasswordHashError("desk password hash asks for a cost out of range: make it again")
    if len(salt) < 8 or len(digest) != HASH_BYTES:
        raise PasswordHashError("desk password hash has a short salt or hash: make it again")
    return n, r, p, salt, digest


#: checked against when the agent is unknown, so that an unknown name and a
#: wrong password take the same time
_DUMMY: Final = hash_password("not a password", salt=b"\0" * SALT_BYTES)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (None: no such
    agent, always False after the same work)."""
    n, r, p, salt, digest = parse(stored if stored is not None else _DUMMY)
    matches = hmac.compare_digest(_scrypt(password, salt, n, r, p), digest)
    return matches and stored is not None
