"""Deployment artefacts generated from the code, so they cannot drift from it.

- :mod:`recaudo.deploy.k8s`: Kubernetes manifests (Strimzi Kafka, one ``KafkaTopic``
  per catalogue topic, the recaudo Deployments) for ``recaudo deploy k8s``;
- :mod:`recaudo.deploy.config_reference`: ``deploy/CONFIGURATION.md`` from the
  ``Settings`` model;
- :mod:`recaudo.deploy.envvars`: which environment variables recaudo reads, to
  check that every manifest sets only those;
- :mod:`recaudo.deploy.roles`: the processes one image runs, shared by compose
  and Kubernetes.
"""

from __future__ import annotations

from recaudo.deploy.envvars import known_env_vars, settings_from_env, unknown_env_vars
from recaudo.deploy.k8s import K8sOptions, kafka_topics, manifests, render_manifests
from recaudo.deploy.roles import HEALTH_PORT, ROLES, Role

__all__ = [
    "HEALTH_PORT",
    "ROLES",
    "K8sOptions",
    "Role",
    "kafka_topics",
    "known_env_vars",
    "manifests",
    "render_manifests",
    "settings_from_env",
    "unknown_env_vars",
]
