"""The committed deployment files, parsed once per test session."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from recaudo.deploy.yamlio import load_documents

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_DIR = DEPLOY / "compose"


@cache
def k8s_files() -> dict[str, list[dict[str, Any]]]:
    """File name -> documents, for every committed Kubernetes manifest."""
    return {path.name: load_documents(path.read_text()) for path in sorted(K8S.glob("*.yaml"))}


def k8s_docs(kind: str | None = None) -> list[dict[str, Any]]:
    docs = [doc for docs in k8s_files().values() for doc in docs]
    return [doc for doc in docs if kind is None or doc["kind"] == kind]


@cache
def compose() -> dict[str, Any]:
    (doc,) = load_documents((COMPOSE_DIR / "compose.yaml").read_text())
    return doc
