"""Per-installation secret keys: a value from the settings when one is set,
else a random key made once in the state directory (owner-only permissions)
and read back by every process of this installation."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr


def installation_key(
    configured: SecretStr | None, state_dir: Path, key_file: Path, *, when_empty: str
) -> bytes:
    """``configured`` when set; else the key at ``state_dir / key_file``, made
    there (64 hex characters, mode 0600) if missing. Two processes making it at
    once agree: the second uses the first's. Replicas on other machines must
    configure one value. ``when_empty`` completes the error for an empty file
    (what deleting it breaks)."""
    if configured is not None:
        return configured.get_secret_value().encode()
    path = state_dir / key_file
    try:
        return _read_key(path, when_empty)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    made = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _read_key(path, when_empty)
    with os.fdopen(fd, "wb") as out:
        out.write(made)
        out.flush()
        os.fsync(out.fileno())
    return made


def _read_key(path: Path, when_empty: str) -> bytes:
    key = path.read_bytes().strip()
    if not key:
        raise ValueError(f"{path} is empty: delete it ({when_empty})")
    return key
