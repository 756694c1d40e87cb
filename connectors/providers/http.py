"""What the HTTP provider adapters share: a bounded connection pool with
timeouts, and turning transport failures and "try again later" answers into
the connector's transient errors."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import httpx

from connectors.providers.base import TransientProviderError
from recaudo.settings import Settings

#: Longest Retry-After honoured: a provider asking for more still gets retried
#: by the connector's backoff, but never parks a send for longer than this.
MAX_RETRY_AFTER_S = 60.0


def client(
    settings: Settings,
    base_url: str,
    *,
    auth: httpx.Auth | tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """One pooled client per adapter: connections are reused across sends and
    capped, so a burst of dispatches cannot open unbounded sockets."""
    total = settings.provider_timeout_s
    return httpx.AsyncClient(
        base_url=base_url,
        auth=auth,
        headers={"User-Agent": "recaudo", **(headers or {})},
        timeout=httpx.Timeout(total, connect=min(total, 5.0)),
        limits=httpx.Limits(
            max_connections=settings.provider_max_connections,
            max_keepalive_connections=settings.provider_max_connections,
            keepalive_expiry=30.0,
        ),
    )


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def is_transient_status(status: int) -> bool:
    """408, 425, 429 and 5xx: the request may succeed if repeated."""
    return status in (408, 425, 429) or status >= 500


#: Answers that by HTTP's own definition mean the request was not processed:
#: 408 (the server did not receive it whole), 425 (it refused to process it
#: before the handshake was complete), 429 (refused: too many requests).
#: Other 5xx answers do not say, and may come from a proxy the request passed.
NOT_PROCESSED = frozenset({408, 425, 429})


def transient_answer(
    response: httpx.Response,
    message: str,
    code: str,
    *,
    not_processed: frozenset[int] = NOT_PROCESSED,
) -> TransientProviderError:
    """A transient answer as an error: ``sent=False`` if its status is one
    the provider documents as "not processed", else the outcome is unknown."""
    return TransientProviderError(
        message,
        code,
        retry_after(response),
        sent=False if response.status_code in not_processed else None,
    )


def transport_error(exc: httpx.TransportError) -> TransientProviderError:
    """A failure to get an answer, and whether the request can have left.

    Connecting (DNS, TCP, TLS handshake) and waiting for a pooled connection
    happen before the request is written: the provider never saw it. Any
    later failure (a write or read timeout, a connection closed before or
    while the answer came) may leave the provider with the message.
    """
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransientProviderError(f"not connected: {name}", "CONNECT", sent=False)
    if isinstance(exc, httpx.TimeoutException):
        return TransientProviderError(f"timeout after the request was written: {name}", "TIMEOUT")
    return TransientProviderError(
        f"connection lost after the request was written: {name}", "TRANSPORT"
    )


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    data: Mapping[str, str | list[str]] | None = None,
    json: Any = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST, with connection errors and timeouts reported as transient, each
    saying whether the request can have reached the provider
    (:func:`transport_error`)."""
    try:
        return await client.post(url, data=data, json=json, content=content, headers=headers)
    except httpx.TransportError as exc:
        raise transport_error(exc) from exc


async def get(
    client: httpx.AsyncClient, url: str, *, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """GET, with connection errors and timeouts reported as transient."""
    try:
        return await client.get(url, headers=headers)
    except httpx.TransportError as exc:
        raise transport_error(exc) from exc
