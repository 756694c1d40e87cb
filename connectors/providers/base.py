"""What a channel provider adapter is: the edge between a connector and an
SMS, email, WhatsApp or voice provider. No Kafka here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Protocol, Self, runtime_checkable

from recaudo.contracts.records import Channel

SendStatus = Literal["ACCEPTED", "SENT", "FAILED", "BOUNCED"]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    dispatch_id: str
    """The provider idempotency key: the same dispatch is never sent twice."""
    channel: Channel
    address: str
    subject: str | None
    body: str
    locale: str
    template: str
    variables: dict[str, str] = field(default_factory=dict)
    #: Who it is for; providers never see it, simulators model a persona by it.
    debtor_id: str = ""


@dataclass(frozen=True, slots=True)
class SendResult:
    status: SendStatus
    provider_message_id: str | None
    error_code: str | None = None
    error_message: str | None = None
    permanent: bool = False


class ProviderError(Exception):
    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientProviderError(ProviderError):
    """The call failed but may succeed later: 429, 5xx, timeouts, connection errors.

    ``sent`` says whether the provider took the request: ``False`` when it
    certainly did not (the connection was never made, or it answered that it
    did not process it), so calling again is the first send it sees; ``None``
    (the default, the safe assumption) or ``True`` when it may have or did (a
    timeout or a dropped connection after the request was written), so calling
    again may send the message twice unless the provider drops repeats.
    """

    def __init__(
        self,
        message: str,
        code: str | None = None,
        retry_after_s: float | None = None,
        *,
        sent: bool | None = None,
    ) -> None:
        super().__init__(message, code)
        self.retry_after_s = retry_after_s
        self.sent = sent


class PermanentProviderError(ProviderError):
    """Retrying cannot help: invalid address, unsubscribed recipient, bad request.
    ``bounced`` marks a rejected address (the view then marks it invalid)."""

    def __init__(self, message: str, code: str | None = None, bounced: bool = False) -> None:
        super().__init__(message, code)
        self.bounced = bounced


class ProviderAdapter(Protocol):
    """What every adapter has. Optional: ``max_calls`` (how many sends it can
    have in progress at once, e.g. its connection pool), ``due`` (follow-ups
    it reports itself, see the simulator), ``lookup`` (:class:`LooksUpSends`)
    and ``deduplicates`` (:func:`deduplicates`)."""

    name: str
    channel: Channel

    async def send(self, msg: OutboundMessage) -> SendResult: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class LooksUpSends(Protocol):
    """An adapter that can ask its provider whether it has a dispatch's message
    (by idempotency key or client reference), for a send whose answer a
    crashed connector never saw."""

    #: Whether :meth:`lookup` can answer (it may depend on configuration).
    looks_up: bool

    async def lookup(self, msg: OutboundMessage) -> SendResult | None:
        """The provider's answer to the earlier send of ``msg``; None if it
        never received it (so sending it now is the first send). Raises
        :class:`ProviderError` when the provider cannot tell."""
        ...


Lookup = Callable[[OutboundMessage], Awaitable[SendResult | None]]


def lookup_of(adapter: object) -> Lookup | None:
    """The adapter's lookup, or None when its provider cannot be asked."""
    if isinstance(adapter, LooksUpSends) and adapter.looks_up:
        return adapter.lookup
    return None


def deduplicates(adapter: object) -> bool:
    """Whether the adapter's provider drops a repeated send of the same
    idempotency key (the dispatch id), so that calling it again after a call
    whose outcome is unknown cannot send the message twice. An adapter says so
    with a ``deduplicates`` attribute, only where the provider documents it;
    without one it is False."""
    return getattr(adapter, "deduplicates", False) is True


class ClosesAsync:
    """``async with`` for a provider: leaving the block awaits ``aclose()``."""

    async def aclose(self) -> None:
        """Nothing held open by default (SMTP connects per send)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
