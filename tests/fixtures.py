"""Fixtures for pure tests: settings with no services, factories of valid events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from recaudo.events import DebtEvent, DebtorProfile
from recaudo.settings import Settings, reset_settings_cache

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


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


def debt_event(
    debtor_id: str = "D-1",
    type: str = "PAYMENT_MISSED",
    payload: dict[str, Any] | None = None,
    account_id: str = "A-1",
    occurred_at: datetime = T0,
    **kw: Any,
) -> DebtEvent:
    payload = payload or {
        "instalment_number": 3,
        "amount_minor": 12_500,
        "currency": "USD",
        "due_date": "2026-11-01",
    }
    return DebtEvent(
        event_id=kw.pop("event_id", uuid.uuid4()),
        occurred_at=occurred_at,
        source=kw.pop("source", "core-banking"),
        debtor_id=debtor_id,
        account_id=account_id,
        type=type,  # type: ignore[arg-type]
        payload=payload,  # type: ignore[arg-type]
        **kw,
    )


def debtor_profile(debtor_id: str = "D-1", **kw: Any) -> DebtorProfile:
    data: dict[str, Any] = {
        "occurred_at": T0,
        "source": "crm",
        "debtor_id": debtor_id,
        "preferred_language": "es",
        "time_zone": "America/Bogota",
        "country": "CO",
        "jurisdiction": "co_ley_2300",
        "contact_points": [
            {"channel": "sms", "address": "+573001112233", "consent": True},
            {"channel": "email", "address": "d1@example.co", "consent": True},
        ],
    }
    data.update(kw)
    return DebtorProfile.model_validate(data)
