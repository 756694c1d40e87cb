"""deploy/CONFIGURATION.md: generated from the Settings model, committed as generated."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from recaudo.cli.deploy import deploy
from recaudo.deploy.config_reference import config_reference_markdown
from recaudo.deploy.envvars import env_vars_by_field
from recaudo.settings import Settings

from .files import DEPLOY

REFERENCE = DEPLOY / "CONFIGURATION.md"


def test_committed_reference_is_exactly_what_the_command_generates() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == config_reference_markdown(), (
        "run: recaudo deploy config-reference --out deploy/CONFIGURATION.md"
    )


def _rows() -> dict[str, list[str]]:
    rows = {}
    for line in config_reference_markdown().splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    return rows


def test_one_row_per_setting_with_its_variables_type_default_and_secrecy() -> None:
    rows = _rows()
    assert rows["database_url"][4] == "yes" and rows["kafka_sasl_password"][4] == "yes"
    assert list(rows) == list(Settings.model_fields)
    for name, env_vars in env_vars_by_field().items():
        _, variables, type_, default, secret, description = rows[name]
        assert variables == ", ".join(f"`{v}`" for v in env_vars)
        assert type_ and default
        assert description == (Settings.model_fields[name].description or "")
        assert (secret == "yes") == ("SecretStr" in str(Settings.model_fields[name].annotation))
    assert rows["kafka_bootstrap_servers"][1] == (
        "`RECAUDO_KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_BOOTSTRAP_SERVERS`"
    )
    assert rows["topic_partitions"][2:4] == ["integer ≥ 1", "`6`"]
    assert rows["kafka_security_protocol"][2].startswith("one of `PLAINTEXT`")
    # The generating user's home never leaks into the committed page.
    assert rows["state_dir"][3] == "`~/.recaudo`"


def test_the_command_prints_writes_and_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(deploy, ["config-reference"])
    assert printed.exit_code == 0 and printed.output == config_reference_markdown()

    out = tmp_path / "CONFIGURATION.md"
    assert runner.invoke(deploy, ["config-reference", "--out", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == config_reference_markdown()
    assert runner.invoke(deploy, ["config-reference", "--out", str(out), "--check"]).exit_code == 0
    out.write_text("stale\n", encoding="utf-8")
    assert runner.invoke(deploy, ["config-reference", "--out", str(out), "--check"]).exit_code == 1
