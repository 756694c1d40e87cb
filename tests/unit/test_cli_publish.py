"""`recaudo publish` and `recaudo demo` options, without a broker."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from recaudo.cli.main import cli


def test_a_misspelled_header_is_refused_before_a_broker_is_needed(tmp_path: Path) -> None:
    file = tmp_path / "bank.csv"
    file.write_bytes(
        "\ufeffdebtor_id;account_id;type;occurred_at;payment_id;ammount;currency\r\n"
        "D1;A1;PAYMENT_RECEIVED;2026-11-01T10:00:00Z;P1;1,50;EUR\r\n".encode()
    )
    result = CliRunner().invoke(
        cli, ["publish", str(file)], env={"RECAUDO_STATE_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert "unknown column 'ammount' (did you mean 'amount'?)" in result.output
    assert "Nothing was published" in result.output
    assert "no broker" not in result.output
    assert not (tmp_path / "bank.csv.rejects.jsonl").exists()


def test_publish_takes_the_delimiter_by_name(tmp_path: Path) -> None:
    file = tmp_path / "bank.csv"
    file.write_text("debtor_id,account_id,type,occurred_at\n")
    result = CliRunner().invoke(
        cli,
        ["publish", "--delimiter", "semicolon", str(file)],
        env={"RECAUDO_STATE_DIR": str(tmp_path)},
    )
    assert result.exit_code == 1
    assert (
        "read as semicolon-separated, but the header has commas: pass --delimiter" in result.output
    )


def test_demo_defaults_to_the_readme_s_2000_debtors() -> None:
    demo = cli.commands["demo"]
    (debtors,) = (p for p in demo.params if isinstance(p, click.Option) and p.name == "debtors")
    assert debtors.default == 2_000
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "recaudo demo --debtors 2000" in readme


def test_a_rejects_file_that_cannot_be_written_is_refused_before_publishing(
    tmp_path: Path,
) -> None:
    file = tmp_path / "bank.csv"
    file.write_text("debtor_id,account_id,type,occurred_at\n")
    nowhere = tmp_path / "missing" / "bank.rejects.jsonl"
    result = CliRunner().invoke(
        cli,
        ["publish", "--rejects", str(nowhere), str(file)],
        env={"RECAUDO_STATE_DIR": str(tmp_path)},
    )
    assert result.exit_code == 1
    assert f"cannot write the rejects file {nowhere}" in result.output
    assert "name another with --rejects" in result.output and "no broker" not in result.output
