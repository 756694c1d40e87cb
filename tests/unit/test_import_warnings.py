"""recaudo prints no warning its users cannot act on (authlib's, from the
schema-registry client it imports), from the CLI or as a library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECAUDO_", "KAFKA_"))}
    env.pop("PYTHONWARNINGS", None)
    env["RECAUDO_STATE_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", [["--help"], ["settings"], ["publish", "--help"]])
def test_cli_commands_print_no_authlib_warning(tmp_path: Path, command: list[str]) -> None:
    result = run(tmp_path, "-m", "recaudo", *command)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "module", ["recaudo.kafka.producer", "recaudo.contracts.bank_files", "recaudo.kafka.serde"]
)
def test_importing_recaudo_prints_no_authlib_warning(tmp_path: Path, module: str) -> None:
    result = run(tmp_path, "-c", f"import {module}")
    assert result.returncode == 0, result.stderr
    assert "AuthlibDeprecationWarning" not in result.stderr, result.stderr
