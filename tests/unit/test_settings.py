from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from recaudo.embedded.quirks import SESSION_TIMEOUT_MS
from recaudo.settings import Settings, env_for_children


def test_standard_kafka_names_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://registry:8081")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cret@db/recaudo")
    s = Settings()
    assert s.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert s.schema_registry_url == "http://registry:8081"
    assert s.database_dsn() == "postgresql://app:s3cret@db/recaudo"
    assert not s.uses_embedded_services


def test_prefixed_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "plain:9092")
    monkeypatch.setenv("RECAUDO_KAFKA_BOOTSTRAP_SERVERS", "prefixed:9092")
    assert Settings().kafka_bootstrap_servers == "prefixed:9092"


def test_sasl_and_tls_pass_through_as_librdkafka_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k:9093")
    monkeypatch.setenv("RECAUDO_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("RECAUDO_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("RECAUDO_KAFKA_SASL_USERNAME", "recaudo")
    monkeypatch.setenv("RECAUDO_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("RECAUDO_KAFKA_SSL_CA_LOCATION", "/etc/ssl/ca.pem")
    conf = Settings().kafka_config()
    assert conf == {
        "bootstrap.servers": "k:9093",
        "security.protocol": "sasl_ssl",
        "client.id": "recaudo",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "recaudo",
        "sasl.password": "hunter2",
        "ssl.ca.location": "/etc/ssl/ca.pem",
    }


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAUDO_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cret@db/recaudo")
    monkeypatch.setenv("RECAUDO_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "u:regpass")
    s = Settings()
    for text in (repr(s), str(s), str(s.redacted())):
        assert "hunter2" not in text and "s3cret" not in text and "regpass" not in text
    assert s.redacted()["database_url"] == "postgresql://app:***@db/recaudo"


def test_missing_broker_error_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match=r"recaudo up.*KAFKA_BOOTSTRAP_SERVERS"):
        Settings().kafka_config()


def test_embedded_quirks_apply_only_to_the_embedded_broker() -> None:
    real = Settings(kafka_bootstrap_servers="k:9092").consumer_config("g")
    assert "group.instance.id" not in real and "session.timeout.ms" not in real
    embedded = Settings(kafka_bootstrap_servers="k:9092", embedded_broker=True).consumer_config("g")
    assert embedded["session.timeout.ms"] == SESSION_TIMEOUT_MS
    assert embedded["group.instance.id"].startswith("g-")


def test_contact_path_consumers_fetch_often_only_from_the_embedded_broker() -> None:
    from recaudo.embedded.quirks import LOW_LATENCY_FETCH_WAIT_MS

    embedded = Settings(kafka_bootstrap_servers="k:9092", embedded_broker=True)
    assert embedded.consumer_config("g", low_latency=True)["fetch.wait.max.ms"] == (
        LOW_LATENCY_FETCH_WAIT_MS
    )
    assert "fetch.wait.max.ms" not in embedded.consumer_config("g")
    real = Settings(kafka_bootstrap_servers="k:9092").consumer_config("g", low_latency=True)
    assert "fetch.wait.max.ms" not in real


def test_producer_is_idempotent_with_acks_all() -> None:
    conf = Settings(kafka_bootstrap_servers="k:9092").producer_config()
    assert conf["enable.idempotence"] is True and conf["acks"] == "all"


def test_registry_defaults_to_in_process_mock() -> None:
    assert Settings().schema_registry_config() == {"url": "mock://recaudo"}


def test_children_inherit_services() -> None:
    s = Settings(
        kafka_bootstrap_servers="127.0.0.1:1",
        embedded_broker=True,
        database_url=SecretStr("postgresql://x@/db"),
    )
    env = env_for_children(s, RECAUDO_INSTANCE_ID="w0")
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:1"
    assert env["RECAUDO_EMBEDDED_BROKER"] == "true"
    assert env["DATABASE_URL"] == "postgresql://x@/db"
    assert env["RECAUDO_INSTANCE_ID"] == "w0"


def test_children_share_one_simulated_clock_when_its_start_is_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    origin = datetime(2026, 11, 4, 16, tzinfo=UTC)
    env = env_for_children(Settings(clock_origin=origin, clock_speed=60.0))
    for name, value in env.items():
        if name.startswith("RECAUDO_CLOCK_"):
            monkeypatch.setenv(name, value)
    first, second = Settings(), Settings()  # two children, read at different times
    assert first.clock_started is not None
    assert first.clock_started == second.clock_started
    assert first.clock_origin == origin
