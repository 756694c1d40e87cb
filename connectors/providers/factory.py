"""Which provider adapters exist, which channels each can carry, and building
one from the settings (what ``recaudo connector run --provider`` calls)."""

from __future__ import annotations

from typing import Literal, get_args

from connectors.providers.base import ProviderAdapter
from recaudo.contracts.records import CHANNELS, Channel
from recaudo.settings import Settings

ProviderName = Literal["simulator", "smtp", "twilio", "meta", "webhook"]
PROVIDERS: tuple[ProviderName, ...] = get_args(ProviderName)

CHANNELS_OF: dict[ProviderName, tuple[Channel, ...]] = {
    "simulator": CHANNELS,
    "smtp": ("email",),
    "twilio": ("sms", "voice"),
    "meta": ("whatsapp",),
    "webhook": CHANNELS,
}


class ProviderConfigError(ValueError):
    """The provider cannot carry the channel, or its settings are missing."""


def check_combination(provider: ProviderName, channel: Channel) -> None:
    allowed = CHANNELS_OF[provider]
    if channel not in allowed:
        raise ProviderConfigError(
            f"provider {provider!r} does not carry the {channel} channel "
            f"(it carries: {', '.join(allowed)}); providers for {channel}: "
            + ", ".join(p for p in PROVIDERS if channel in CHANNELS_OF[p])
        )


def build_adapter(provider: ProviderName, channel: Channel, settings: Settings) -> ProviderAdapter:
    check_combination(provider, channel)
    # Imported here: a connector loads only its own provider's client library.
    try:
        if provider == "simulator":
            from connectors.simulator import SimulatedProvider
            from recaudo.orchestration.clock import clock_from_settings

            # On a scaled clock a simulated send takes as long in simulated
            # time as it would in real time; on a slowed one (tests hold the
            # clock still) no longer in real time than a real send.
            scaled = settings.clock_origin is not None
            return SimulatedProvider(
                channel,
                clock=clock_from_settings(settings).now,
                latency_scale=min(1.0, 1 / settings.clock_speed) if scaled else 1.0,
            )
        if provider == "smtp":
            from connectors.providers.smtp import SmtpProvider

            return SmtpProvider(settings)
        if provider == "twilio":
            from connectors.providers.twilio import TwilioProvider

            return TwilioProvider(settings, channel)
        if provider == "meta":
            from connectors.providers.meta_whatsapp import MetaWhatsAppProvider

            return MetaWhatsAppProvider(settings)
        from connectors.providers.webhook import WebhookProvider

        return WebhookProvider(settings, channel)
    except ValueError as exc:
        raise ProviderConfigError(str(exc)) from exc
