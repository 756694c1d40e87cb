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


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    data: Mapping[str, str | list[str]] | None = None,
    json: Any = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST, with connection errors and timeouts reported as transient.

    A timeout after the request was written is ambiguous (the provider may
    have sent the message); it is retried with the dispatch id as the
    idempotency key, which only providers that honour it de-duplicate.
    """
    try:
        return await client.post(url, data=data, json=json, content=content, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientProviderError(f"timeout: {type(exc).__name__}", "TIMEOUT") from exc
    except httpx.TransportError as exc:
        raise TransientProviderError(f"transport: {type(exc).__name__}", "TRANSPORT") from exc


async def get(
    client: httpx.AsyncClient, url: str, *, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """GET, with connection errors and timeouts reported as transient."""
    try:
        return await client.get(url, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientProviderError(f"timeout: {type(exc).__name__}", "TIMEOUT") from exc
    except httpx.TransportError as exc:
        raise TransientProviderError(f"transport: {type(exc).__name__}", "TRANSPORT") from exc
