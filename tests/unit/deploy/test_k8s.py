"""deploy/k8s: generated from the code, committed, and consistent with the catalogue
and the settings model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from recaudo.cli.deploy import deploy
from recaudo.contracts.records import CHANNELS
from recaudo.deploy.envvars import k8s_recaudo_env, known_env_vars, settings_from_env
from recaudo.deploy.k8s import (
    FILES,
    SECRET_FILE,
    K8sOptions,
    drift,
    kafka_topics,
    min_insync_replicas,
    render_manifests,
)
from recaudo.deploy.roles import HEALTH_PORT, ROLES
from recaudo.deploy.yamlio import load_documents
from recaudo.kafka.topics import CATALOGUE, Topics

from .files import K8S, k8s_docs, k8s_files

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in k8s_docs(kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _config() -> dict[str, str]:
    data: dict[str, str] = _one("ConfigMap")["data"]
    return data


# --- committed == generated --------------------------------------------------------------


def test_committed_manifests_are_exactly_what_the_command_generates() -> None:
    problems = drift(K8S)
    assert not problems, "\n".join(problems) + "\nrun: recaudo deploy k8s --out deploy/k8s"


def test_the_cli_writes_what_it_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "k8s"
    result = runner.invoke(deploy, ["k8s", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert runner.invoke(deploy, ["k8s", "--out", str(out), "--check"]).exit_code == 0

    (out / "topics.yaml").write_text((out / "topics.yaml").read_text() + "# edited\n")
    (out / "extra.yaml").write_text("{}\n")
    result = runner.invoke(deploy, ["k8s", "--out", str(out), "--check"])
    assert result.exit_code == 1
    assert "topics.yaml" in result.output and "extra.yaml" in result.output


def test_options_change_the_output() -> None:
    files = render_manifests(K8sOptions(namespace="cobranza", partitions=24, image="r:1"))
    assert "namespace: cobranza" in files["config.yaml"]
    assert "partitions: 24" in files["topics.yaml"]
    assert "image: r:1" in files["streams.yaml"]


# --- every file parses and is well formed ------------------------------------------------


def test_every_manifest_parses_and_names_its_kind() -> None:
    files = k8s_files()
    assert sorted(files) == sorted(FILES)
    for name, docs in files.items():
        assert docs, f"{name} holds no document"
        for doc in docs:
            assert {"apiVersion", "kind"} <= doc.keys(), name
            if doc["kind"] == "Kustomization":
                continue
            meta = doc["metadata"]
            assert meta["name"], name
            assert re.match(DNS_SUBDOMAIN, meta["name"]), meta["name"]
            if doc["kind"] != "Namespace":
                assert meta["namespace"] == K8sOptions().namespace, (name, meta["name"])


def test_kustomization_applies_every_other_file() -> None:
    (kustomization,) = k8s_files()["kustomization.yaml"]
    # The Secret template stays out: applying it would overwrite the real credentials.
    assert kustomization["resources"] == [
        f for f in FILES if f not in {"kustomization.yaml", SECRET_FILE}
    ]


def test_strimzi_resources_use_the_v1_api() -> None:
    strimzi = [d for d in k8s_docs() if d["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {d["kind"] for d in strimzi} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    assert {d["apiVersion"] for d in strimzi} == {"kafka.strimzi.io/v1"}


# --- topics --------------------------------------------------------------------------------


def test_kafka_topics_match_the_catalogue_exactly() -> None:
    topics = Topics.from_settings(settings_from_env(_config()))
    manifests = k8s_files()["topics.yaml"]
    assert [m["spec"]["topicName"] for m in manifests] == [t.name for t in topics]
    assert len(manifests) == len(CATALOGUE)
    for manifest, topic in zip(manifests, topics, strict=True):
        spec = manifest["spec"]
        assert manifest["kind"] == "KafkaTopic"
        assert (
            manifest["metadata"]["labels"]["strimzi.io/cluster"]
            == _one("Kafka")["metadata"]["name"]
        )
        assert spec["partitions"] == topic.partitions
        assert spec["replicas"] == topic.replication_factor == 3
        assert spec["config"] == {**topic.config, "min.insync.replicas": "2"}
        assert spec["config"]["cleanup.policy"] == topic.spec.cleanup_policy
        assert spec["config"]["retention.ms"] == str(topic.spec.retention_ms)


def test_compacted_view_topic_keeps_forever() -> None:
    view = next(
        m for m in k8s_files()["topics.yaml"] if m["spec"]["topicName"].endswith("debtor-view")
    )
    assert view["spec"]["config"]["cleanup.policy"] == "compact"
    assert view["spec"]["config"]["retention.ms"] == "-1"


@pytest.mark.parametrize(("replicas", "min_isr"), [(1, 1), (2, 1), (3, 2), (5, 2)])
def test_min_insync_replicas_leave_one_broker_to_spare(replicas: int, min_isr: int) -> None:
    assert min_insync_replicas(replicas) == min_isr
    (first, *_) = kafka_topics(Topics("acme", 3, replicas), "c", "ns")
    assert first["spec"]["config"]["min.insync.replicas"] == str(min_isr)
    assert first["spec"]["replicas"] == replicas


def test_kafka_topics_follow_prefix_partitions_and_names() -> None:
    manifests = kafka_topics(Topics("Acme_Bank", 3, 1), "kafka-a", "ns-a")
    for manifest in manifests:
        assert manifest["spec"]["topicName"].startswith("Acme_Bank.")
        assert manifest["spec"]["partitions"] == 3
        assert manifest["metadata"]["namespace"] == "ns-a"
        assert manifest["metadata"]["labels"]["strimzi.io/cluster"] == "kafka-a"
        # Topic names allow _ and capitals; Kubernetes names do not.
        assert re.match(DNS_SUBDOMAIN, manifest["metadata"]["name"])


def test_the_topics_command_prints_the_catalogue() -> None:
    result = CliRunner().invoke(deploy, ["topics", "--partitions", "4", "--prefix", "x"])
    assert result.exit_code == 0, result.output
    docs = load_documents(result.output)
    assert [d["spec"]["topicName"] for d in docs] == [t.name for t in Topics("x", 4)]
    assert {d["spec"]["partitions"] for d in docs} == {4}


# --- settings: ConfigMap, Secret, env ------------------------------------------------------


def test_recaudo_containers_set_only_known_settings() -> None:
    envs = k8s_recaudo_env(k8s_docs())
    assert len(envs) == len(ROLES)
    known = known_env_vars()
    for container, env in envs.items():
        assert set(env) <= known, (container, sorted(set(env) - known))
        settings = settings_from_env({k: v for k, v in env.items() if v is not None})
        assert settings.kafka_security_protocol == "SASL_SSL"
        assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
        assert settings.kafka_sasl_password is not None
        assert settings.database_url is not None
        assert settings.topic_replication_factor == 3


def test_kafka_credentials_and_ca_line_up_with_strimzi() -> None:
    config, kafka = _config(), _one("Kafka")
    cluster = kafka["metadata"]["name"]
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True
    assert listener["authentication"] == {"type": "scram-sha-512"}
    assert config["KAFKA_BOOTSTRAP_SERVERS"] == f"{cluster}-kafka-bootstrap:{listener['port']}"

    user = _one("KafkaUser", config["RECAUDO_KAFKA_SASL_USERNAME"])
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    ref = user["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]
    secret = _one("Secret", ref["name"])
    assert ref["key"] == "RECAUDO_KAFKA_SASL_PASSWORD" and ref["key"] in secret["stringData"]

    prefix = config["RECAUDO_TOPIC_PREFIX"]
    topic_acls = {
        acl["resource"]["name"]
        for acl in user["spec"]["authorization"]["acls"]
        if acl["resource"]["type"] == "topic"
    }
    assert f"{prefix}." in topic_acls
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}

    for deployment in k8s_docs("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "kafka-ca"]
        assert volume["secret"]["secretName"] == f"{cluster}-cluster-ca-cert"
    for name, env in k8s_recaudo_env(k8s_docs()).items():
        deployment = _one("Deployment", name.split("/")[0])
        (mount,) = [
            m
            for m in deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
            if m["name"] == "kafka-ca"
        ]
        assert env["RECAUDO_KAFKA_SSL_CA_LOCATION"] == f"{mount['mountPath']}/ca.crt"


def test_kraft_node_pools() -> None:
    pools = {d["metadata"]["name"]: d for d in k8s_docs("KafkaNodePool")}
    assert {tuple(p["spec"]["roles"]) for p in pools.values()} == {("controller",), ("broker",)}
    cluster = _one("Kafka")["metadata"]["name"]
    for pool in pools.values():
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert pool["spec"]["replicas"] == 3
    config = _one("Kafka")["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2


# --- workloads -----------------------------------------------------------------------------


def _recaudo_deployments() -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for d in k8s_docs("Deployment")
        if d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "recaudo"
    }


def test_one_deployment_per_role_running_its_command() -> None:
    deployments = _recaudo_deployments()
    assert sorted(deployments) == sorted(f"recaudo-{r.name}" for r in ROLES)
    for role in ROLES:
        (container,) = deployments[f"recaudo-{role.name}"]["spec"]["template"]["spec"]["containers"]
        assert container["args"] == list(role.args)
        assert container["image"] == K8sOptions().image
    channels = {r.channel for r in ROLES if r.component == "connector"}
    assert channels == set(CHANNELS)


def test_probes_resources_and_security() -> None:
    for name, deployment in _recaudo_deployments().items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["ports"] == [{"name": "http", "containerPort": HEALTH_PORT}], name
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= container["resources"][bound].keys(), name
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        # A read-only root needs the state dir to be a volume.
        state_dir = _config()["RECAUDO_STATE_DIR"]
        assert state_dir in {m["mountPath"] for m in container["volumeMounts"]}


def test_streams_replicas_fit_the_partitions() -> None:
    deployments = _recaudo_deployments()
    stream_roles = [r for r in ROLES if r.component == "streams"]
    assert {r.name for r in stream_roles} == {
        "streams-view",
        "streams-publisher",
        "streams-kpis",
        "streams-agent-tasks",
    }
    for role in stream_roles:
        streams = deployments[f"recaudo-{role.name}"]
        assert 1 < streams["spec"]["replicas"] <= int(_config()["RECAUDO_TOPIC_PARTITIONS"])
        assert _one("PodDisruptionBudget", f"recaudo-{role.name}")["spec"]["maxUnavailable"] == 1


def test_every_connector_autoscales_up_to_the_partition_count() -> None:
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in k8s_docs("HorizontalPodAutoscaler")}
    connectors = {n: d for n, d in _recaudo_deployments().items() if "connector" in n}
    assert set(hpas) == set(connectors) and len(connectors) == len(CHANNELS)
    partitions = int(_config()["RECAUDO_TOPIC_PARTITIONS"])
    for name, hpa in hpas.items():
        assert hpa["spec"]["maxReplicas"] == partitions
        assert 1 <= hpa["spec"]["minReplicas"] <= partitions
        # The HPA owns the count: a replicas field would be reset on every apply.
        assert "replicas" not in connectors[name]["spec"]


def test_the_dashboard_runs_once_behind_a_service() -> None:
    dashboard = _recaudo_deployments()["recaudo-dashboard"]
    # It only reads: more replicas would only repeat its queries.
    assert dashboard["spec"]["replicas"] == 1
    (container,) = dashboard["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert args[args.index("--port") + 1] == str(HEALTH_PORT)
    service = _one("Service", "recaudo-dashboard")
    assert service["spec"]["selector"].items() <= (
        dashboard["spec"]["template"]["metadata"]["labels"].items()
    )


def test_services_select_pods_that_exist() -> None:
    deployments = k8s_docs("Deployment")
    for service in k8s_docs("Service"):
        selector = service["spec"]["selector"]
        matching = [
            d
            for d in deployments
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert matching, service["metadata"]["name"]
        ports = {
            p["name"]
            for d in matching
            for p in d["spec"]["template"]["spec"]["containers"][0]["ports"]
        }
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    config = _config()
    registry = config["SCHEMA_REGISTRY_URL"].removeprefix("http://").split(":")[0]
    assert registry in {s["metadata"]["name"] for s in k8s_docs("Service")}


def test_core_resources_match_the_kubernetes_schemas() -> None:
    """Strict OpenAPI validation (unknown fields rejected) of everything but the
    Strimzi custom resources, against the oldest Kubernetes the manifests target."""
    validator = pytest.importorskip("kubernetes_validate")
    checked = 0
    for doc in k8s_docs():
        if doc["apiVersion"].startswith("kafka.strimzi.io/") or doc["kind"] == "Kustomization":
            continue
        validator.validate(doc, "1.30.0", strict=True)
        checked += 1
    assert checked >= len(ROLES) * 2
