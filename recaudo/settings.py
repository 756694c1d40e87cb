"""Configuration from the environment.

Every setting has a ``RECAUDO_`` variable; the standard names used across the
Kafka ecosystem (``KAFKA_BOOTSTRAP_SERVERS``, ``SCHEMA_REGISTRY_URL``,
``DATABASE_URL``, ``OTEL_EXPORTER_OTLP_ENDPOINT``) are honoured as well, so a
deployment that already exports them needs nothing else.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
#: Who builds the debtor snapshots: see ``Settings.view_snapshots``.
ViewSnapshots = Literal["publisher", "inline"]

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
    model_cache_dir: Path | None = Field(
        default=None,
        description=(
            "Where the understanding models built from the corpus are kept between "
            "processes (unset: the user cache directory, ~/.cache/recaudo/understanding "
            "on Linux); only files recaudo wrote there are loaded."
        ),
    )
    source: str = Field(
        default="recaudo",
        description="CloudEvents source of the events this process produces (ce_source).",
    )
    log_level: LogLevel = Field(default="INFO", description="Log level of every process.")

    # --- orchestration -------------------------------------------------------
    orchestrate: bool = Field(
        default=True,
        description=(
            "Run the contact orchestrator beside the debtor view in `recaudo streams run`. "
            "Off: the worker keeps the view only (`recaudo rebuild` always runs it off)."
        ),
    )
    conversations: bool = Field(
        default=True,
        description=(
            "Answer debtors' replies (SMS, WhatsApp, email) with the conversation: understood, "
            "answered on the channel written from, promises, plans, disputes and opt-outs "
            "recorded, a person called in when needed (docs/conversations.md). Off: a reply "
            "starts the strategy's `reply_received` cadence and only opt-out keywords are read."
        ),
    )
    # --- learned contact choice (docs/learning.md) ----------------------------
    learner_enabled: bool = Field(
        default=False,
        description=(
            "The learner's switch. On: debtors on the learner arm get the channel, send window "
            "and template variant the learned model chooses among the contacts the rules allow. "
            "Off (the default): every debtor gets the static strategy on its next decision."
        ),
    )
    learner_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description=(
            "Share of each segment's debtors on the learner arm (a stable hash of the debtor "
            "id), unless RECAUDO_LEARNER_SEGMENT_SHARES names the segment."
        ),
    )
    learner_holdout_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description=(
            "Share of each segment's debtors held out on the static strategy as the "
            "experiment's control: raising the learner's share never moves them."
        ),
    )
    learner_segment_shares: str = Field(
        default="",
        description=(
            "Per risk segment shares, `segment:learner/holdout` comma-separated, e.g. "
            "`low:0.3/0.05,high:0.1/0.05` (`unknown`: debtors with no risk segment)."
        ),
    )
    learner_salt: str = Field(
        default="recaudo-learner",
        min_length=1,
        description="Salt of the arm assignment: a new salt draws every debtor's arm anew.",
    )
    learner_epsilon: float = Field(
        default=0.05, ge=0, le=1, description="The learner's epsilon-greedy exploration."
    )
    learner_probability_floor: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description=(
            "Every allowed action keeps at least this probability, so off-policy evaluation "
            "can weigh any candidate policy on the logged decisions."
        ),
    )
    learner_attribution_days: float = Field(
        default=7.0,
        gt=0,
        description="How long after a contact a reply, promise or payment counts as its reward.",
    )
    learner_snapshot_every: int = Field(
        default=100,
        ge=1,
        description=(
            "The learner service publishes a new model version after learning this many "
            "rewarded decisions."
        ),
    )
    strategy_file: Path | None = Field(
        default=None,
        description="TOML contact strategy (cadences, steps, arms). Unset: the built-in one.",
    )
    templates_file: Path | None = Field(
        default=None,
        description="TOML message templates (Jinja2, sandboxed). Unset: the built-in es/en/pt set.",
    )
    policy_file: Path | None = Field(
        default=None,
        description="TOML with custom jurisdiction rule sets, added to the built-in presets.",
    )
    clock_origin: datetime | None = Field(
        default=None,
        description=(
            "Simulated time: with RECAUDO_CLOCK_SPEED, every process reads the same scaled "
            "clock that was at this instant at RECAUDO_CLOCK_STARTED. Unset: the wall clock."
        ),
    )
    clock_started: float | None = Field(
        default=None,
        description="Unix time at which the simulated clock read RECAUDO_CLOCK_ORIGIN.",
    )
    clock_speed: float = Field(
        default=1.0, gt=0, description="Simulated seconds per real second (with CLOCK_ORIGIN)."
    )
    clock_until: datetime | None = Field(
        default=None,
        description=(
            "Simulated time stops at this instant (with CLOCK_ORIGIN): the demo's world "
            "stands still at the end of its period while the pipeline catches up."
        ),
    )
    clock_start_file: Path | None = Field(
        default=None,
        description=(
            "With CLOCK_ORIGIN: the simulated clock stands at its origin until this file "
            "exists, then starts at the Unix time written in it (RECAUDO_CLOCK_STARTED is "
            "then ignored): the demo starts its month once every worker is ready."
        ),
    )
    timers: bool = Field(
        default=True,
        description=(
            "Run the timer service in `recaudo streams run`: deferred steps, fallbacks, "
            "promise dates and bucket boundaries happen without an event. Off: only events "
            "move a debtor."
        ),
    )
    timer_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the timer service looks for debtors whose timers came due.",
    )
    view_snapshots: ViewSnapshots = Field(
        default="publisher",
        description=(
            "Who builds the debtor snapshots (debtor-view topic and Postgres). `publisher`: "
            "the view worker hands each debtor's state to the debtor-states topic and "
            "`recaudo streams run --name publisher` builds them, off the contact path. "
            "`inline`: the view worker builds them itself (one process fewer; its decisions "
            "wait behind the snapshots under load)."
        ),
    )
    view_held_debtors: int = Field(
        default=10_000,
        ge=1,
        description=(
            "Debtors the view + orchestrator worker keeps decoded in memory between "
            "checkpoints, least recently used dropped first (6-15 KiB each): one seen again "
            "while held is not read and decoded from the state store again."
        ),
    )

    # --- providers -----------------------------------------------------------
    provider_timeout_s: float = Field(
        default=10.0, gt=0, description="Timeout of one provider API call, in seconds."
    )
    provider_max_connections: int = Field(
        default=32, ge=1, description="Open connections to a provider per connector process."
    )
    connector_ledger_sync: Literal["normal", "full"] = Field(
        default="normal",
        description=(
            "How the connectors' sent-ledger commits: normal survives the process being "
            "killed; full also survives the machine losing power, at a disk sync per record."
        ),
    )
    smtp_host: str = Field(default="localhost", description="SMTP server of the email channel.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (port 587), tls (implicit TLS, port 465) or none (tests only).",
    )
    smtp_username: str | None = Field(default=None, description="SMTP login; unset: no AUTH.")
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP password (never printed)."
    )
    smtp_from: str = Field(
        default="cobranza@example.com", description="From address of collection emails."
    )
    twilio_account_sid: str | None = Field(default=None, description="Twilio Account SID (AC...).")
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        description="Twilio auth token: API auth and X-Twilio-Signature checks (never printed).",
    )
    twilio_from_number: str | None = Field(
        default=None, description="Sender number (E.164) for SMS and calls."
    )
    twilio_messaging_service_sid: str | None = Field(
        default=None, description="Messaging Service SID (MG...); used instead of the number."
    )
    twilio_base_url: str = Field(
        default="https://api.twilio.com", description="Twilio REST API base URL."
    )
    meta_phone_number_id: str | None = Field(
        default=None, description="WhatsApp Cloud API phone number id of the sender."
    )
    meta_access_token: SecretStr | None = Field(
        default=None, description="WhatsApp Cloud API access token (never printed)."
    )
    meta_app_secret: SecretStr | None = Field(
        default=None,
        description="Meta app secret: checks X-Hub-Signature-256 on webhooks (never printed).",
    )
    meta_verify_token: SecretStr | None = Field(
        default=None,
        description="Token Meta echoes when subscribing the webhook (never printed).",
    )
    meta_api_version: str = Field(default="v21.0", description="Graph API version.")
    meta_base_url: str = Field(
        default="https://graph.facebook.com", description="Graph API base URL."
    )
    webhook_url: str | None = Field(
        default=None, description="Endpoint of the generic webhook channel (POST JSON)."
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Key of the generic webhook's X-Recaudo-Signature HMAC (never printed).",
    )
    webhook_lookup: bool = Field(
        default=False,
        description=(
            "The webhook endpoint answers GET with an Idempotency-Key: 200 if it received "
            "that dispatch, 404 if not. A connector restarted after a crash then asks it "
            "about sends whose answer it never saw, instead of reporting OUTCOME_UNKNOWN."
        ),
    )
    webhooks_public_url: str | None = Field(
        default=None,
        description=(
            "Public base URL of `recaudo webhooks run` (https://hooks.example.com): Twilio "
            "signs the URL it called, and status callbacks are sent to it. "
            "Unset: rebuilt from Host and X-Forwarded-Proto; no per-message callbacks."
        ),
    )

    webhooks_host: str = Field(
        default="127.0.0.1",
        description=(
            "Address `recaudo webhooks run` listens on (0.0.0.0: every interface, as in a "
            "container behind a TLS proxy)."
        ),
    )
    webhooks_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a webhook client has to send a request's headers before 408.",
    )
    webhooks_body_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a webhook client has to send a request's whole body before 408.",
    )
    webhooks_replay_window_s: float = Field(
        default=8 * 86400.0,
        gt=0,
        description=(
            "Seconds a provider callback id is remembered (a repeat is answered 200 and "
            "recorded once), and the oldest signed timestamp accepted (Meta retries for "
            "7 days)."
        ),
    )

    # --- inbound email -------------------------------------------------------
    email_reply_to: str | None = Field(
        default=None,
        # An address whose local part has no "+": recaudo appends "+<token>".
        pattern=r"^[^@\s+]+@[^@\s]+\.[^@\s]+$",
        description=(
            "Reply-To of collection emails (replies@banco.example): each email gets "
            "replies+<token>@… so a reply names its dispatch even without In-Reply-To. "
            "Unset: no Reply-To; replies thread on In-Reply-To/References alone."
        ),
    )
    email_thread_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key of the HMAC that signs the reply token in each email's Message-ID and "
            "Reply-To, so a forged reply cannot be pinned on a debtor (never printed). "
            "Unset: a random key made once and kept in the state directory "
            "(secrets/email-thread.key); replicas that do not share that directory must "
            "all set this to one value. Changing it orphans replies to earlier emails."
        ),
    )
    inbound_email_host: str = Field(
        default="127.0.0.1", description="Address `recaudo inbound-email run` listens on (SMTP)."
    )
    inbound_email_port: int = Field(
        default=2525, ge=0, le=65535, description="SMTP port of `recaudo inbound-email run`."
    )
    inbound_email_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest email the inbound receiver accepts (bigger: refused with 552).",
    )
    mailgun_signing_key: SecretStr | None = Field(
        default=None,
        description=(
            "Mailgun HTTP webhook signing key: checks the signature of inbound-route POSTs "
            "to /mailgun/inbound (never printed). Unset: the route answers 404."
        ),
    )

    # --- dashboard -----------------------------------------------------------
    dashboard_host: str = Field(
        default="127.0.0.1",
        description="Address `recaudo dashboard` listens on (0.0.0.0: every interface).",
    )
    dashboard_port: int = Field(
        default=8050, ge=0, le=65535, description="Port of `recaudo dashboard` (0: any free port)."
    )
    dashboard_refresh_s: float = Field(
        default=5.0, gt=0, description="Seconds between the dashboard page's live refreshes."
    )

    # --- self-service portal --------------------------------------------------
    portal_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description=(
            "Public base URL of `recaudo portal run` (https://pay.banco.example): messages "
            "get a personal link under it ({{ portal_link }} in the templates). Unset: no "
            "link is rendered."
        ),
    )
    portal_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key that encrypts and signs the portal links (never printed). Unset: a random "
            "key made once and kept in the state directory (secrets/portal.key); replicas "
            "that do not share that directory, and the stream workers that render the "
            "links, must all set this to one value. Changing it voids every link sent."
        ),
    )
    portal_link_ttl_s: float = Field(
        default=14 * 86400.0,
        gt=0,
        description="Seconds a portal link works after the message it came in was decided.",
    )
    portal_payment_url: str | None = Field(
        default=None,
        description=(
            "The bank's own payment page, offered beside the portal's choices; "
            "{account_id}, {amount_minor} and {currency} are filled in "
            "(https://bank.example/pay?ref={account_id}). Unset: no payment button."
        ),
    )
    portal_host: str = Field(
        default="127.0.0.1",
        description="Address `recaudo portal run` listens on (0.0.0.0: every interface).",
    )
    portal_port: int = Field(
        default=8060, ge=0, le=65535, description="Port of `recaudo portal run` (0: any free port)."
    )

    # --- agent desk ----------------------------------------------------------
    desk_host: str = Field(
        default="127.0.0.1",
        description="Address `recaudo desk run` listens on (0.0.0.0: every interface).",
    )
    desk_port: int = Field(
        default=8070, ge=0, le=65535, description="Port of `recaudo desk run` (0: any free port)."
    )
    desk_agents: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'The agents who may use the desk, as JSON: {"ana": "<hash>"}, each hash made by '
            "`recaudo desk hash-password` (scrypt, a salt of its own). With a trusted header, "
            "the agents it may name (empty: any)."
        ),
    )
    desk_session_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key of the HMAC that signs desk session cookies and CSRF tokens (never printed). "
            "Unset: a random key per process (sessions end when the desk restarts); replicas "
            "behind one address must all set this to one value."
        ),
    )
    desk_session_ttl_s: float = Field(
        default=8 * 3600.0, gt=0, description="Seconds a desk sign-in lasts."
    )
    desk_trusted_header: str | None = Field(
        default=None,
        description=(
            "Header a reverse proxy sets to the signed-in agent (X-Forwarded-User): the desk "
            "then takes the agent from it and has no sign-in page. Only when nothing but "
            "that proxy can reach the desk."
        ),
    )
    desk_secure_cookie: bool = Field(
        default=True,
        description=(
            "Mark the desk session cookie Secure (sent over HTTPS only; browsers also send "
            "it to http://127.0.0.1 and http://localhost)."
        ),
    )

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
    otel_metrics_exporter: Literal["otlp", "none"] = Field(
        default="otlp",
        validation_alias=_env("OTEL_METRICS_EXPORTER"),
        description=(
            "`none`: send traces only over OTLP (a backend that takes no metrics, "
            "such as Jaeger); `/metrics` serves the metrics either way."
        ),
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

    def consumer_config(
        self, group_id: str, *, low_latency: bool = False, **overrides: Any
    ) -> dict[str, Any]:
        """librdkafka consumer settings for ``group_id``, broker quirks applied.

        ``low_latency`` marks a consumer on the contact path: against the
        embedded broker it fetches more often (see recaudo.embedded.quirks).
        """
        from recaudo.embedded.quirks import consumer_overrides

        conf = {
            **self.kafka_config(),
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
        if self.embedded_broker:
            conf.update(consumer_overrides(group_id, low_latency=low_latency))
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
    if settings.clock_origin is not None:
        # One simulated clock for every process: same origin, start and speed.
        env["RECAUDO_CLOCK_ORIGIN"] = settings.clock_origin.isoformat()
        # Unset, each child would start its own clock when it starts: pin it.
        started = settings.clock_started if settings.clock_started is not None else time.time()
        env["RECAUDO_CLOCK_STARTED"] = repr(started)
        env["RECAUDO_CLOCK_SPEED"] = repr(settings.clock_speed)
        if settings.clock_until is not None:
            env["RECAUDO_CLOCK_UNTIL"] = settings.clock_until.isoformat()
    env.update(extra)
    return env
