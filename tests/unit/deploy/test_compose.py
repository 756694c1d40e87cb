"""deploy/compose: a three-broker KRaft cluster and every recaudo role, configured
only through settings recaudo reads."""

from __future__ import annotations

from typing import Any

from recaudo.contracts.records import CHANNELS
from recaudo.deploy.envvars import compose_recaudo_env, known_env_vars, settings_from_env
from recaudo.deploy.roles import HEALTH_PORT, ROLES
from recaudo.deploy.yamlio import load_documents

from .files import COMPOSE_DIR, compose


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services


def _brokers() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _services().items()
        if "KAFKA_PROCESS_ROLES" in (service.get("environment") or {})
    }


def test_every_compose_side_file_parses() -> None:
    for path in COMPOSE_DIR.glob("*.y*ml"):
        assert load_documents(path.read_text()), path


def test_three_kraft_brokers_form_one_quorum() -> None:
    brokers = _brokers()
    assert len(brokers) == 3
    envs = [b["environment"] for b in brokers.values()]
    for b in brokers.values():
        assert b["image"].startswith("apache/kafka:")
    assert {e["CLUSTER_ID"] for e in envs} != {""} and len({e["CLUSTER_ID"] for e in envs}) == 1
    ids = {e["KAFKA_NODE_ID"] for e in envs}
    assert ids == {"1", "2", "3"}
    (voters,) = {e["KAFKA_CONTROLLER_QUORUM_VOTERS"] for e in envs}
    assert {v.split("@")[0] for v in voters.split(",")} == ids
    for name, env in zip(brokers, envs, strict=True):
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        assert f"@{name}:" in voters
        assert f"//{name}:" in env["KAFKA_ADVERTISED_LISTENERS"]
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert "healthcheck" in brokers[name]


def test_supporting_services() -> None:
    services = _services()
    assert services["schema-registry"]["image"].startswith("ghcr.io/aiven-open/karapace:")
    assert services["postgres"]["image"] == "postgres:16"
    assert services["otel-collector"]["image"].startswith("otel/opentelemetry-collector")
    assert services["jaeger"]["image"].startswith("jaegertracing/")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")


def test_mounted_config_files_exist_and_wire_the_telemetry() -> None:
    for service in _services().values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (COMPOSE_DIR / source).is_file(), source
    (collector,) = load_documents((COMPOSE_DIR / "otel-collector.yaml").read_text())
    pipelines = collector["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp/jaeger"]
    assert collector["exporters"]["otlp/jaeger"]["endpoint"].startswith("jaeger:")
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    prometheus_port = collector["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
    (prometheus,) = load_documents((COMPOSE_DIR / "prometheus.yml").read_text())
    targets = [
        t
        for job in prometheus["scrape_configs"]
        for c in job.get("static_configs", [])
        for t in c["targets"]
    ]
    assert f"otel-collector:{prometheus_port}" in targets


def test_recaudo_services_run_every_role_with_replicas() -> None:
    services = _services()
    for role in ROLES:
        service_name = "streams" if role.name == "streams-view" else role.name
        assert services[service_name]["command"] == list(role.args), role.name
    assert services["streams"]["deploy"]["replicas"] == 3
    connectors = [n for n in services if n.startswith("connector-")]
    assert sorted(connectors) == sorted(f"connector-{c}" for c in CHANNELS)
    assert "webhooks" in services
    assert services["topics"]["command"] == ["topics", "create"]
    for name in (
        "streams",
        "streams-publisher",
        "streams-kpis",
        "streams-agent-tasks",
        *connectors,
        "webhooks",
        "portal",
        "desk",
        "dashboard",
    ):
        assert services[name]["depends_on"]["topics"] == {
            "condition": "service_completed_successfully"
        }


def test_recaudo_containers_set_only_known_settings() -> None:
    envs = compose_recaudo_env(compose())
    assert set(envs) == {
        "topics",
        "streams",
        "streams-publisher",
        "streams-kpis",
        "streams-agent-tasks",
        "webhooks",
        "portal",
        "desk",
        "dashboard",
        *(f"connector-{c}" for c in CHANNELS),
    }
    known = known_env_vars()
    for service, env in envs.items():
        assert set(env) <= known, (service, sorted(set(env) - known))
        settings = settings_from_env(env)
        assert settings.kafka_bootstrap_servers is not None
        assert settings.schema_registry_url == "http://schema-registry:8081"
        assert settings.database_url is not None
        assert settings.otel_exporter_otlp_endpoint is not None
        assert settings.topic_replication_factor == 3
        for host_port in settings.kafka_bootstrap_servers.split(","):
            assert host_port.split(":")[0] in _brokers()


def test_the_database_url_matches_the_postgres_service() -> None:
    postgres = _services()["postgres"]["environment"]
    (env, *_) = compose_recaudo_env(compose()).values()
    dsn = settings_from_env(env).database_dsn()
    user = postgres["POSTGRES_USER"]
    assert dsn == (f"postgresql://{user}:recaudo@postgres:5432/{postgres['POSTGRES_DB']}")


def test_the_dashboard_is_on_the_host_and_scraped() -> None:
    dashboard = _services()["dashboard"]
    # One replica (it only reads), reachable from the host alone.
    assert "deploy" not in dashboard
    (port,) = dashboard["ports"]
    host_ip, _, container_port = port.rpartition(":")
    assert host_ip.startswith("127.0.0.1:") and container_port == str(HEALTH_PORT)
    args = dashboard["command"]
    # Its default address, 127.0.0.1, would not be reachable from outside the container.
    assert args[args.index("--host") + 1] == "0.0.0.0"
    (prometheus,) = load_documents((COMPOSE_DIR / "prometheus.yml").read_text())
    (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "recaudo"]
    (sd,) = job["dns_sd_configs"]
    assert "dashboard" in sd["names"] and sd["port"] == HEALTH_PORT
