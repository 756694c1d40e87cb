"""Model versions in Postgres (``learner_model``): each version the learner
publishes, with the reward ledger it was taken with, so the learner resumes
from the latest after a restart and any version can be loaded for a replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


@dataclass(frozen=True, slots=True)
class StoredModel:
    model_version: str
    previous_version: str | None
    decisions_learned: int
    vw_args: str
    model: bytes
    ledger: bytes
    created_at: datetime


def write_model(conn: psycopg.Connection[Any], stored: StoredModel) -> None:
    """Idempotent: the same version written twice is one row (a version is its bytes)."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO learner_model (model_version, previous_version, decisions_learned, "
            "vw_args, model, ledger, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (model_version) DO UPDATE SET ledger = EXCLUDED.ledger, "
            "decisions_learned = GREATEST(learner_model.decisions_learned, "
            "EXCLUDED.decisions_learned)",
            (
                stored.model_version,
                stored.previous_version,
                stored.decisions_learned,
                stored.vw_args,
                stored.model,
                stored.ledger,
                stored.created_at,
            ),
        )


def _stored(row: tuple[Any, ...]) -> StoredModel:
    return StoredModel(row[0], row[1], int(row[2]), row[3], bytes(row[4]), bytes(row[5]), row[6])


def latest_model(conn: psycopg.Connection[Any]) -> StoredModel | None:
    row = conn.execute(
        "SELECT model_version, previous_version, decisions_learned, vw_args, model, ledger, "
        "created_at FROM learner_model "
        "ORDER BY decisions_learned DESC, created_at DESC, model_version LIMIT 1"
    ).fetchone()
    return None if row is None else _stored(row)


def model_by_version(conn: psycopg.Connection[Any], version: str) -> StoredModel | None:
    row = conn.execute(
        "SELECT model_version, previous_version, decisions_learned, vw_args, model, ledger, "
        "created_at FROM learner_model WHERE model_version = %s",
        (version,),
    ).fetchone()
    return None if row is None else _stored(row)
