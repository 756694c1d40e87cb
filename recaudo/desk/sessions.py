"""Who is asking: a signed session cookie (after sign-in with a password) or
a header a trusted reverse proxy sets; and the CSRF tokens that tie each
form to the agent's session. Pure: the caller passes the key, the request's
parts and ``now``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

SESSION_COOKIE: Final = "recaudo_desk"
#: the sign-in form's own nonce, before there is a session to tie it to
LOGIN_COOKIE: Final = "recaudo_desk_login"
MAX_AGENT_LENGTH: Final = 128


@dataclass(frozen=True, slots=True)
class Identity:
    """An identified agent; ``binding`` is what their CSRF tokens are tied to."""

    agent: str
    binding: str


def desk_has_agents(agents: Mapping[str, str], trusted_header: str | None) -> bool:
    """Whether anyone could sign in: configured agents, or a trusted proxy's header."""
    return bool(agents) or trusted_header is not None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks session cookies and CSRF tokens with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the desk session key needs at least 16 bytes: set a longer one")
        self._key = key

    def _mac(self, purpose: str, data: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}\n{data}".encode(), hashlib.sha256).digest())

    def session(self, agent: str, now: float, ttl_s: float) -> str:
        """A new session cookie value for ``agent``, valid ``ttl_s`` from ``now``."""
        body = _b64(
            json.dumps(
                {"a": agent, "e": int(now + ttl_s), "n": secrets.token_urlsafe(12)},
                separators=(",", ":"),
            ).encode()
        )
        return f"{body}.{self._mac('session', body)}"

    def read_session(self, value: str | None, now: float) -> Identity | None:
        """The agent of a session cookie whose signature holds and that has
        not expired; None for anything else."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        try:
            data = json.loads(_unb64(body))
            agent, expires, nonce = str(data["a"]), int(data["e"]), str(data["n"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if now >= expires:
            return None
        return Identity(agent, f"session:{nonce}")

    def csrf(self, binding: str) -> str:
        """The CSRF token of forms shown under ``binding``."""
        return self._mac("csrf", binding)

    def check_csrf(self, binding: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf(binding))


def identify(
    signer: Signer,
    *,
    cookie: str | None,
    headers: Mapping[str, str],
    trusted_header: str | None,
    agents: Mapping[str, str],
    now: float,
) -> Identity | None:
    """The agent making a request, or None (refused).

    With a trusted header configured, only that header counts (sessions are
    not used): its value, if one of ``agents`` when any are configured.
    Otherwise a valid session cookie of an agent still configured."""
    if trusted_header is not None:
        agent = headers.get(trusted_header.lower(), "").strip()
        if not agent or len(agent) > MAX_AGENT_LENGTH or not agent.isprintable():
            return None
        if agents and agent not in agents:
            return None
        return Identity(agent, f"header:{agent}")
    identity = signer.read_session(cookie, now)
    if identity is None or identity.agent not in agents:
        return None
    return identity
