"""Fixtures for pure tests: settings with no services, and the sample records
(:mod:`recaudo.contracts.samples`) under the names the tests use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from recaudo.contracts.samples import T0, debt_event, debtor_profile
from recaudo.settings import Settings, reset_settings_cache

__all__ = ["T0", "debt_event", "debtor_profile", "offline_settings"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never see the developer's own Kafka/Postgres/registry settings."""
    import os

    for name in list(os.environ):
        if name.startswith("RECAUDO_") or name in (
            "KAFKA_BOOTSTRAP_SERVERS",
            "SCHEMA_REGISTRY_URL",
            "DATABASE_URL",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ):
            monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture
def offline_settings(tmp_path: Any) -> Settings:
    return Settings(state_dir=tmp_path)
