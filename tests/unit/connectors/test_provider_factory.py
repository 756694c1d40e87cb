"""Which provider carries which channel, and the errors that say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from connectors.providers.factory import CHANNELS_OF, ProviderConfigError, build_adapter
from connectors.providers.meta_whatsapp import MetaWhatsAppProvider
from connectors.providers.smtp import SmtpProvider
from connectors.providers.twilio import TwilioProvider
from connectors.providers.webhook import WebhookProvider
from connectors.simulator import SimulatedProvider
from recaudo.cli.main import cli
from recaudo.settings import Settings


def test_wrong_combination_is_a_usage_error_naming_the_right_providers() -> None:
    result = CliRunner().invoke(
        cli, ["connector", "run", "--channel", "email", "--provider", "twilio"]
    )
    assert result.exit_code == 2
    assert "does not carry the email channel" in result.output
    assert "simulator, smtp, webhook" in result.output


def test_missing_credentials_name_the_variables(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    with pytest.raises(ProviderConfigError, match="RECAUDO_TWILIO_ACCOUNT_SID"):
        build_adapter("twilio", "sms", settings)
    with pytest.raises(ProviderConfigError, match="RECAUDO_META_ACCESS_TOKEN"):
        build_adapter("meta", "whatsapp", settings)
    with pytest.raises(ProviderConfigError, match="RECAUDO_WEBHOOK_URL"):
        build_adapter("webhook", "sms", settings)


def test_every_allowed_combination_builds(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        twilio_account_sid="AC1",
        twilio_auth_token=SecretStr("t"),
        twilio_from_number="+15550001111",
        meta_phone_number_id="1",
        meta_access_token=SecretStr("t"),
        webhook_url="https://crm.example/hooks",
        webhook_secret=SecretStr("s"),
    )
    kinds = {
        "simulator": SimulatedProvider,
        "smtp": SmtpProvider,
        "twilio": TwilioProvider,
        "meta": MetaWhatsAppProvider,
        "webhook": WebhookProvider,
    }
    for provider, channels in CHANNELS_OF.items():
        for channel in channels:
            adapter = build_adapter(provider, channel, settings)
            assert isinstance(adapter, kinds[provider])
            assert adapter.channel == channel
