"""recaudo understand: one message, or JSON lines on standard input."""

from __future__ import annotations

import json

from click.testing import CliRunner

from recaudo.cli.main import cli


def test_one_message() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "understand",
            "--language",
            "es",
            "--now",
            "2026-12-09T15:00:00Z",
            "pago 200 mil el viernes",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["intent"] == "promise_to_pay"
    assert 0 < out["confidence"] <= 1
    assert out["entities"]["dates"] == ["2026-12-11"]
    assert out["entities"]["amounts"] == [{"minor": 20_000_000, "currency": "COP"}]
    assert isinstance(out["alternatives"], list)


def test_json_lines_from_standard_input_one_object_per_line() -> None:
    lines = [
        {"text": "no me escriban más", "language": "es"},
        {"text": "dejen de llamarme", "language": "es", "time_zone": "America/Mexico_City"},
        {"text": "cuánto debo?", "language": "es", "currency": "MXN"},
        "not json",
        {"text": "pago el 30", "language": "es", "now": "2026-12-09T15:00:00-05:00"},
        {"language": "es"},
        {"text": "pago", "language": "fr"},
    ]
    stdin = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    result = CliRunner().invoke(
        cli, ["understand", "--now", "2026-12-09T15:00:00Z", "-"], input=stdin
    )
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    assert [o.get("intent") for o in out] == [
        "opt_out",
        "opt_out",
        "ask_balance",
        None,
        "promise_to_pay",
        None,
        None,
    ]
    assert out[1]["entities"]["opt_out_channels"] == ["voice"]
    assert out[3]["line"] == 4 and "not JSON" in out[3]["error"]
    assert out[4]["entities"]["dates"] == ["2026-12-30"]
    assert "text" in out[5]["error"]
    assert "language 'fr'" in out[6]["error"]
    assert "line 4" in result.stderr


def test_a_bad_option_says_what_to_do() -> None:
    result = CliRunner().invoke(cli, ["understand", "--now", "yesterday", "hola"])
    assert result.exit_code == 2
    assert "ISO 8601" in result.output
    result = CliRunner().invoke(cli, ["understand", "--currency", "ZZZ", "hola"])
    assert result.exit_code == 1
    assert "ISO-4217" in result.output


def test_json_lines_with_fields_of_the_wrong_type_are_errors_not_crashes() -> None:
    lines = [
        {"text": "hola", "currency": 5},
        {"text": "hola", "now": 1700000000},
        {"text": 42},
        ["hola"],
        {"text": "BAJA", "language": "es"},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines)
    result = CliRunner().invoke(cli, ["understand", "-"], input=stdin)
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("line") for o in out] == [1, 2, 3, 4, None]
    assert "currency" in out[0]["error"] and "now" in out[1]["error"]
    assert out[4]["intent"] == "opt_out"
