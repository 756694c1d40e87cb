"""Per-installation secret keys (portal links, email reply tokens)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from recaudo.process.secret_keys import installation_key

KEY_FILE = Path("secrets") / "thing.key"


def test_made_once_owner_only_and_read_back(tmp_path: Path) -> None:
    key = installation_key(None, tmp_path, KEY_FILE, when_empty="x")
    assert len(key) == 64
    assert installation_key(None, tmp_path, KEY_FILE, when_empty="x") == key
    mode = stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode)
    assert mode == 0o600
    assert installation_key(None, tmp_path / "other", KEY_FILE, when_empty="x") != key


def test_a_configured_key_wins_and_no_file_is_made(tmp_path: Path) -> None:
    key = installation_key(SecretStr("from-the-vault"), tmp_path, KEY_FILE, when_empty="x")
    assert key == b"from-the-vault"
    assert not (tmp_path / KEY_FILE).exists()


def test_an_empty_file_says_what_deleting_it_breaks(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).parent.mkdir()
    (tmp_path / KEY_FILE).write_bytes(b"\n")
    with pytest.raises(ValueError, match="delete it \\(links stop working\\)"):
        installation_key(None, tmp_path, KEY_FILE, when_empty="links stop working")
