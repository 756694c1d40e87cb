"""Configuration from the environment.

Every setting has a ``RECAUDO_`` variable; the standard names used across the
Kafka ecosystem (``KAFKA_BOOTSTRAP_SERVERS``, ``SCHEMA_REGISTRY_URL``,
``DATABASE_URL``, ``OTEL_EXPORTER_OTLP_ENDPOINT``) are honoured as well, so a
deployment that already exports them needs nothing else.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

DEFAULT_STATE_DIR = Path.home() / ".recaudo"


def _env(name: str) -> AliasChoices:
    """Accept ``RECAUDO_<NAME>`` first, then the ecosystem's standard name."""
    return AliasChoices(f"RECAUDO_{name}", name)


class Settings(BaseSettings):
    """Everything recaudo reads from its environment.

    ``kafka_bootstrap_servers``, ``schema_registry_url`` and ``database_url``
    left unset mean "use the embedded default": ``recaudo up`` starts its own
    broker and Postgres and hands their addresses to the processes it runs.
    """

    model_config = SettingsConfigDict(
        env_prefix="RECAUDO_",
        env_file=None,
        extra="ignore",
        populate_by_name=True,
    )

    # --- Kafka -------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"),
        description="Comma-separated host:port list. Unset: the embedded broker.",
    )
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        validation_alias=_env("KAFKA_SECURITY_PROTOCOL"),
        description="librdkafka security.protocol.",
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        default=None,
        validation_alias=_env("KAFKA_SASL_MECHANISM"),
        description="librdkafka sasl.mechanism.",
    )
    kafka_sasl_username: str | None = Field(
        default=None,
        validation_alias=_env("KAFKA_SASL_USERNAME"),
        description="librdkafka sasl.username.",
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None,
        validation_alias=_env("KAFKA_SASL_PASSWORD"),
        description="librdkafka sasl.password (never printed).",
    )
    kafka_ssl_ca_location: str | None = Field(
        default=None,
        validation_alias=_env("KAFKA_SSL_CA_LOCATION"),
        description="librdkafka ssl.ca.location: CA bundle to verify the brokers.",
    )
    kafka_ssl_certificate_location: str | None = Field(
        default=None,
        validation_alias=_env("KAFKA_SSL_CERTIFICATE_LOCATION"),
        description="librdkafka ssl.certificate.location (mutual TLS).",
    )
    kafka_ssl_key_location: str | None = Field(
        default=None,
        validation_alias=_env("KAFKA_SSL_KEY_LOCATION"),
        description="librdkafka ssl.key.location (mutual TLS).",
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None,
        validation_alias=_env("KAFKA_SSL_KEY_PASSWORD"),
        description="librdkafka ssl.key.password (never printed).",
    )
    kafka_client_id: str = Field(
        default="recaudo",
        validation_alias=_env("KAFKA_CLIENT_ID"),
        description="librdkafka client.id prefix.",
    )
    embedded_broker: bool = Field(
        default=False,
        description=(
            "Set by `recaudo up` for the processes it runs against its own Tansu "
            "broker: turns on that broker's client settings (recaudo.embedded.quirks)."
        ),
    )

    # --- topics --------------------------------------------------------------
    topic_prefix: str = Field(default="recaudo", description="Prefix of every topic name.")
    topic_partitions: int = Field(
        default=6, ge=1, description="Partitions of the keyed topics (one debtor, one partition)."
    )
    topic_replication_factor: int = Field(
        default=1, ge=1, description="Replication factor when creating topics (3 in production)."
    )

    # --- schema registry -----------------------------------------------------
    schema_registry_url: str | None = Field(
        default=None,
        validation_alias=_env("SCHEMA_REGISTRY_URL"),
        description="Confluent-compatible registry. Unset: the in-process registry.",
    )
    schema_registry_basic_auth_user_info: SecretStr | None = Field(
        default=None,
        validation_alias=_env("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"),
        description="user:password for the registry (never printed).",
    )

    # --- Postgres ------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=_env("DATABASE_URL"),
        description="postgresql:// URL. Unset: the embedded Postgres (pgserver).",
    )

    # --- runtime -------------------------------------------------------------
    state_dir: Path = Field(
        default=DEFAULT_STATE_DIR,
        description=(
            "Local state: the embedded runtime's Postgres data, logs and runtime.json, the "
            "stream processors' RocksDB state and the connectors' sent-ledgers."
        ),
    )
    source: str = Field(
        default="recaudo",
        description="CloudEvents source of the events this process produces (ce_source).",
    )
    log_level: LogLevel = Field(default="INFO", description="Log level of every process.")

    # --- telemetry -----------------------------------------------------------
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP endpoint. Unset: telemetry stays in-process and quiet.",
    )
    otel_service_name: str = Field(
        default="recaudo",
        validation_alias=_env("OTEL_SERVICE_NAME"),
        description="service.name resource attribute.",
    )

    # ------------------------------------------------------------------------
    @property
    def uses_embedded_services(self) -> bool:
        """True when no external broker is configured: `recaudo up` brings its own."""
        return self.kafka_bootstrap_servers is None

    def require_bootstrap_servers(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise RuntimeError(
                "No Kafka broker configured. Run `recaudo up` to start the embedded one, "
                "or set KAFKA_BOOTSTRAP_SERVERS=host:port for your cluster."
            )
        return self.kafka_bootstrap_servers

    def kafka_config(self) -> dict[str, Any]:
        """Connection settings as librdkafka's dotted keys, secrets revealed.

        Only for handing to a client; never log the result.
        """
        conf: dict[str, Any] = {
            "bootstrap.servers": self.require_bootstrap_servers(),
            "security.protocol": self.kafka_security_protocol.lower(),
            "client.id": self.kafka_client_id,
        }
        optional: dict[str, str | SecretStr | None] = {
            "sasl.mechanism": self.kafka_sasl_mechanism,
            "sasl.username": self.kafka_sasl_username,
            "sasl.password": self.kafka_sasl_password,
            "ssl.ca.location": self.kafka_ssl_ca_location,
            "ssl.certificate.location": self.kafka_ssl_certificate_location,
            "ssl.key.location": self.kafka_ssl_key_location,
            "ssl.key.password": self.kafka_ssl_key_password,
        }
        for key, value in optional.items():
            if value is None:
                continue
            conf[key] = value.get_secret_value() if isinstance(value, SecretStr) else value
        return conf

    def consumer_config(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """librdkafka consumer settings for ``group_id``, broker quirks applied."""
        from recaudo.embedded.quirks import consumer_overrides

        conf = {
            **self.kafka_config(),
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
        if self.embedded_broker:
            conf.update(consumer_overrides(group_id))
        conf.update(overrides)
        return conf

    def producer_config(self, **overrides: Any) -> dict[str, Any]:
        """Idempotent, acks=all producer settings."""
        conf = {
            **self.kafka_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
        }
        conf.update(overrides)
        return conf

    def database_dsn(self) -> str:
        if self.database_url is None:
            raise RuntimeError(
                "No Postgres configured. Run `recaudo up` to start the embedded one, "
                "or set DATABASE_URL=postgresql://user:pass@host/db."
            )
        return self.database_url.get_secret_value()

    def schema_registry_config(self) -> dict[str, Any]:
        """Config for SchemaRegistryClient; ``mock://`` when none is configured."""
        if not self.schema_registry_url:
            return {"url": "mock://recaudo"}
        conf: dict[str, Any] = {"url": self.schema_registry_url}
        if self.schema_registry_basic_auth_user_info is not None:
            conf["basic.auth.user.info"] = (
                self.schema_registry_basic_auth_user_info.get_secret_value()
            )
        return conf

    def redacted(self) -> dict[str, Any]:
        """Every setting with secrets masked: safe to print."""
        data = self.model_dump(mode="json")
        if self.database_url is not None:
            data["database_url"] = _redact_url(self.database_url.get_secret_value())
        return data


def _redact_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db"""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, has_pw, _ = creds.partition(":")
    return f"{scheme}://{user}{':***' if has_pw else ''}@{host}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def reset_settings_cache() -> None:
    """Forget cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()


def env_for_children(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a child process so it reaches the same services."""
    env = dict(os.environ)
    if settings.kafka_bootstrap_servers:
        env["KAFKA_BOOTSTRAP_SERVERS"] = settings.kafka_bootstrap_servers
    if settings.database_url is not None:
        env["DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.schema_registry_url:
        env["SCHEMA_REGISTRY_URL"] = settings.schema_registry_url
    env["RECAUDO_EMBEDDED_BROKER"] = "true" if settings.embedded_broker else "false"
    env["RECAUDO_STATE_DIR"] = str(settings.state_dir)
    env["RECAUDO_TOPIC_PREFIX"] = settings.topic_prefix
    env["RECAUDO_TOPIC_PARTITIONS"] = str(settings.topic_partitions)
    env.update(extra)
    return env
