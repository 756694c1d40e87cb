"""The environment a test gives a `recaudo` command it runs as a user would."""

from __future__ import annotations

import os
from pathlib import Path


def cli_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without recaudo's settings or external
    services, so the command starts its own, in ``state_dir``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RECAUDO_") and k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
    }
    return {**env, "RECAUDO_STATE_DIR": str(state_dir), **extra}
