"""``recaudo desk hash-password``: a hash the desk verifies, never the password."""

from __future__ import annotations

from click.testing import CliRunner

from recaudo.cli.main import cli
from recaudo.desk.passwords import verify_password


def test_hash_password_prints_a_hash_of_the_password_typed_twice() -> None:
    result = CliRunner().invoke(cli, ["desk", "hash-password"], input="s3cret pass\ns3cret pass\n")
    assert result.exit_code == 0, result.output
    stored = result.output.strip().splitlines()[-1]
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert verify_password("s3cret pass", stored)


def test_entries_that_differ_are_asked_again() -> None:
    result = CliRunner().invoke(cli, ["desk", "hash-password"], input="one\ntwo\none\none\n")
    stored = result.output.strip().splitlines()[-1]
    assert "do not match" in result.output.lower() or "error" in result.output.lower()
    assert verify_password("one", stored)


def test_the_desk_commands_explain_themselves() -> None:
    result = CliRunner().invoke(cli, ["desk", "run", "--help"])
    assert result.exit_code == 0
    assert "RECAUDO_DESK_AGENTS" in result.output and "RECAUDO_CONVERSATIONS" in result.output
