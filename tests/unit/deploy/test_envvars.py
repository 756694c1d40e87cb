"""The environment variables recaudo reads, derived from the Settings model."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from recaudo.deploy.envvars import (
    compose_interpolate,
    compose_recaudo_env,
    k8s_recaudo_env,
    known_env_vars,
    settings_from_env,
    unknown_env_vars,
)
from recaudo.settings import Settings


def test_every_field_has_its_recaudo_variable_and_declared_aliases() -> None:
    known = known_env_vars()
    for name in Settings.model_fields:
        assert f"RECAUDO_{name.upper()}" in known
    assert {
        "KAFKA_BOOTSTRAP_SERVERS",
        "SCHEMA_REGISTRY_URL",
        "DATABASE_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_SERVICE_NAME",
    } <= known
    # No alias for a field that declares none.
    assert "TOPIC_PARTITIONS" not in known


def test_unknown_names_are_reported_case_insensitively() -> None:
    names = ["RECAUDO_KAFKA_SASL_MECANISM", "recaudo_log_level", "KAFKA_BOOTSTRAP_SERVERS"]
    assert unknown_env_vars(names) == {"RECAUDO_KAFKA_SASL_MECANISM"}


def test_settings_from_env_reads_only_the_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAUDO_TOPIC_PARTITIONS", "99")
    settings = settings_from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": "plain:9092", "RECAUDO_KAFKA_BOOTSTRAP_SERVERS": "pref:9092"}
    )
    assert settings.kafka_bootstrap_servers == "pref:9092"  # RECAUDO_ wins, as in Settings()
    assert settings.topic_partitions == 6


def test_settings_from_env_rejects_unknown_names_and_bad_values() -> None:
    with pytest.raises(ValueError, match="RECAUDO_NOPE"):
        settings_from_env({"RECAUDO_NOPE": "1"})
    with pytest.raises(ValidationError):
        settings_from_env({"RECAUDO_KAFKA_SECURITY_PROTOCOL": "TLS"})


def test_compose_interpolation_uses_defaults() -> None:
    assert compose_interpolate("a:${X:-b}@${Y}/${Z-c}") == "a:b@/c"


def test_compose_env_of_recaudo_services_only() -> None:
    compose = {
        "services": {
            "w": {"image": "${RECAUDO_IMAGE:-recaudo:1}", "environment": ["A=1", "B"]},
            "k": {"image": "apache/kafka:4", "environment": {"KAFKA_X": "1"}},
            "r": {"image": "ghcr.io/acme/recaudo:2", "environment": {"C": "${P:-x}"}},
        }
    }
    assert compose_recaudo_env(compose) == {"w": {"A": "1", "B": ""}, "r": {"C": "x"}}


def test_k8s_env_follows_env_from() -> None:
    docs: list[dict[str, Any]] = [
        {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"A": "1"}},
        {"kind": "Secret", "metadata": {"name": "s"}, "data": {"B": "Mg=="}},
        {
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "recaudo"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "envFrom": [
                                    {"configMapRef": {"name": "cm"}},
                                    {"secretRef": {"name": "s"}, "prefix": "P_"},
                                ],
                                "env": [
                                    {"name": "C", "value": "3"},
                                    {"name": "D", "valueFrom": {"fieldRef": {}}},
                                ],
                            }
                        ]
                    },
                }
            },
        },
    ]
    assert k8s_recaudo_env(docs) == {"d/c": {"A": "1", "P_B": "2", "C": "3", "D": None}}
    docs[0]["metadata"]["name"] = "other"
    with pytest.raises(ValueError, match="configMapRef 'cm'"):
        k8s_recaudo_env(docs)
