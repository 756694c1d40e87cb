"""Retrying a provider call without sending a message twice.

A transient failure is retried, with exponential backoff and full jitter,
only when calling again cannot make a second message: the provider certainly
did not take the request (``TransientProviderError.sent is False``), or it
drops a repeat of the idempotency key (the adapter's ``deduplicates``).
Otherwise the provider may already have the message: it is asked where it
can be (a lookup), and sent again only if it says it never received it;
where it cannot, the outcome is :class:`Unknown` and no further call is made.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from connectors.providers.base import (
    PermanentProviderError,
    ProviderError,
    SendResult,
    TransientProviderError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 0.2
    cap_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1).

        Full jitter (uniform in [0, min(cap, base * 2^(attempt-1))]) keeps a
        fleet of connectors from retrying in lockstep; a provider's Retry-After
        is a floor.
        """
        ceiling = min(self.cap_s, self.base_s * (2 ** (attempt - 1)))
        wait = rng.uniform(0, ceiling)
        return max(wait, retry_after_s or 0.0)

    def should_retry(self, attempt: int) -> bool:
        return attempt < self.max_attempts


def may_call_again(sent: bool | None, deduplicates: bool) -> bool:
    """Whether another call after a failed one cannot send a second message:
    the provider did not take the request, or it drops a repeated key."""
    return sent is False or deduplicates


@dataclass(frozen=True, slots=True)
class Unknown:
    """The provider may have the message and could not be asked: it is not
    called again, and the dispatch is reported OUTCOME_UNKNOWN."""

    reason: str
    code: str | None = None


#: One call to the provider; its argument is the attempt number (from 1).
Send = Callable[[int], Awaitable[SendResult]]
#: The provider's answer about the message sent earlier; None if it never got it.
Ask = Callable[[], Awaitable[SendResult | None]]
Sleep = Callable[[float], Awaitable[None]]


async def ask_with_retries(
    ask: Ask,
    policy: RetryPolicy,
    rng: random.Random,
    *,
    sleep: Sleep = asyncio.sleep,
    on_retry: Callable[[], None] = lambda: None,
) -> SendResult | None:
    """A lookup, retried on transient errors (asking twice sends nothing).
    Raises :class:`ProviderError` when the provider cannot tell."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await ask()
        except TransientProviderError as exc:
            if not policy.should_retry(attempt):
                raise
            on_retry()
            await sleep(policy.delay(attempt, rng, exc.retry_after_s))


async def send_with_retries(
    send: Send,
    policy: RetryPolicy,
    rng: random.Random,
    *,
    deduplicates: bool,
    ask: Ask | None,
    sleep: Sleep = asyncio.sleep,
    on_retry: Callable[[], None] = lambda: None,
) -> SendResult | Unknown:
    """The outcome of sending one message, calling the provider again only
    when that cannot send it twice (see the module's docstring).

    ``ask`` is the provider's lookup (None where it cannot be asked); ``sleep``
    waits between attempts and ``on_retry`` is told of each retry.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await send(attempt)
        except PermanentProviderError as exc:
            return SendResult(
                status="BOUNCED" if exc.bounced else "FAILED",
                provider_message_id=None,
                error_code=exc.code,
                error_message=str(exc),
                permanent=True,
            )
        except TransientProviderError as exc:
            failure = exc
        if may_call_again(failure.sent, deduplicates) and policy.should_retry(attempt):
            on_retry()
            await sleep(policy.delay(attempt, rng, failure.retry_after_s))
            continue
        if failure.sent is False:
            return _gave_up(failure, attempt)
        # The provider may have the message.
        if ask is None:
            return Unknown(
                f"the provider may have it ({failure}) and cannot be asked", failure.code
            )
        try:
            found = await ask_with_retries(ask, policy, rng, sleep=sleep, on_retry=on_retry)
        except ProviderError as exc:
            return Unknown(
                f"the provider may have it ({failure}) and could not say: {exc}", failure.code
            )
        if found is not None:
            return found
        # It never received it: the next call is the first it sees.
        if not policy.should_retry(attempt):
            return _gave_up(failure, attempt)
        on_retry()
        await sleep(policy.delay(attempt, rng, failure.retry_after_s))


def _gave_up(failure: TransientProviderError, attempt: int) -> SendResult:
    return SendResult(
        status="FAILED",
        provider_message_id=None,
        error_code=failure.code or "TRANSIENT_EXHAUSTED",
        error_message=f"gave up after {attempt} attempts: {failure}",
        permanent=False,
    )
