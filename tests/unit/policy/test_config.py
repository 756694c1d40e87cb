"""Custom rule sets from TOML: extending presets, and errors that name the key."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from recaudo.policy import (
    Cap,
    PolicyConfigError,
    Window,
    evaluate,
    load_registry,
    load_rules,
    preset,
)
from tests.unit.policy.builders import candidate, context, local


def write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_extend_a_preset(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        id = "acme_co"
        extends = "co_ley_2300"
        description = "Acme Colombia: no calls after 18:00, no Saturday calls"
        extra_holidays = [2024-06-04, "2024-06-05"]

        [hours.call]
        weekdays = ["07:00-18:00"]
        sat = []

        [[caps]]
        id = "caps.debtor_contacts_1d"
        limit = 1
        window = "36h"

        [[caps]]
        id = "caps.debtor_sms_3d"
        limit = 1
        window = "3d"
        kinds = ["message"]
        channels = ["sms"]
        """,
    )
    rules = load_rules(path)
    base = preset("co_ley_2300")
    assert rules.id == "acme_co" and rules.extends == "co_ley_2300"
    assert rules.call_hours.days[0] == (Window(420, 1080),)
    assert rules.call_hours.days[5] == ()
    assert rules.call_hours.closed_on_holidays
    assert rules.message_hours == base.message_hours
    assert [c.rule_id for c in rules.caps] == [
        "caps.debtor_contacts_1d",
        "caps.debtor_one_channel_7d",
        "caps.debtor_sms_3d",
    ]
    assert rules.caps[0].window == timedelta(hours=36)
    assert rules.suppression == base.suppression
    assert rules.extra_holidays == {date(2024, 6, 4), date(2024, 6, 5)}
    decision = evaluate(context(), candidate("sms"), local("America/Bogota", 2024, 6, 4, 10), rules)
    assert decision.reason_codes == ("HOLIDAY",)
    assert decision.ruleset_id == "acme_co"


def test_standalone_rule_set(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        id = "house"
        requires_opt_out_text = ["sms"]
        suppress_statuses = ["paid", "settled", "written_off"]
        consent_required = []
        max_search_days = 10

        [hours.call]
        weekdays = ["09:00-12:00", "14:00-17:00"]
        closed_on_holidays = true

        [hours.message]
        weekdays = ["08:00-20:00"]
        sat = ["09:00-13:00"]

        [[cooldowns]]
        id = "cooldown.any_after_talk_2d"
        duration = "2d"
        scope = "debtor"

        [vulnerable]
        mode = "suppress"
        """,
    )
    rules = load_rules(path)
    assert rules.extends is None
    assert rules.call_hours.days[0] == (Window(540, 720), Window(840, 1020))
    assert rules.call_hours.days[6] == ()
    assert not rules.message_hours.closed_on_holidays
    assert rules.cooldowns[0].duration == timedelta(days=2)
    assert rules.suppression.vulnerable.mode == "suppress"
    assert rules.suppression.consent_required == frozenset()
    assert "written_off" in rules.suppression.statuses
    assert rules.requires_opt_out_text == {"sms"}
    assert rules.max_search_days == 10


def test_remove_and_vulnerable_caps(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        id = "loose"
        extends = "cl_ley_19496"
        remove_caps = ["caps.debtor_messages_spacing_2d"]

        [vulnerable]
        channels = ["email"]
        remove_caps = ["vulnerable.debtor_contacts_7d"]

        [[vulnerable.caps]]
        id = "vulnerable.debtor_contacts_14d"
        limit = 1
        window = "14d"
        """,
    )
    rules = load_rules(path)
    assert [c.rule_id for c in rules.caps] == ["caps.debtor_calls_7d", "caps.debtor_messages_7d"]
    assert rules.suppression.vulnerable.channels == {"email"}
    assert rules.suppression.vulnerable.caps == (
        Cap("vulnerable.debtor_contacts_14d", 1, timedelta(days=14)),
    )
    assert rules.lookback == timedelta(days=14)


def test_registry_chains_files(tmp_path: Path) -> None:
    first = write(tmp_path, 'id = "a"\nextends = "br_sp"\n', "a.toml")
    second = write(tmp_path, 'id = "b"\nextends = "a"\nmax_search_days = 5\n', "b.toml")
    registry = load_registry([first, second])
    assert registry["b"].extends == "a"
    assert registry["b"].call_hours == preset("br_sp").call_hours
    assert "us_reg_f" in registry
    with pytest.raises(PolicyConfigError, match="already defined"):
        load_registry([first, first])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('extends = "co_ley_2300"', r"rules\.toml: id: missing"),
        ('id = "x"\nextends = "nowhere"', r"extends: unknown rule set 'nowhere'"),
        ('id = "x"', r"hours: missing"),
        ('id = "x"\n[hours.call]\nweekdays = []', r"hours\.message: missing"),
        ('id = "co_ley_2300"\nextends = "co_ley_2300"', r"id: 'co_ley_2300' is a preset"),
        ('id = "x"\nextends = "co_ley_2300"\nhourz = 1', r"hourz: unknown key"),
        ('id = "x"\nextends = "co_ley_2300"\n[hours.calls]', r"hours\.calls: unknown key"),
        (
            'id = "x"\nextends = "co_ley_2300"\n[hours.call]\nmonday = []',
            r"hours\.call\.monday: unknown key \(allowed: .*mon",
        ),
        (
            'id = "x"\nextends = "co_ley_2300"\n[hours.call]\nmon = ["19:00-07:00"]',
            r"hours\.call\.mon\[0\]: window '19:00-07:00' must end after it starts",
        ),
        (
            'id = "x"\nextends = "co_ley_2300"\n[hours.call]\nmon = ["08:00-12:00", "11:00-13:00"]',
            r"hours\.call: mon: windows 08:00-12:00 and 11:00-13:00",
        ),
        (
            'id = "x"\nextends = "co_ley_2300"\n[[caps]]\nid = "c"\nlimit = 1\nwindow = "1 week"',
            r"caps\[0\]\.window: expected a duration like",
        ),
        (
            'id = "x"\nextends = "co_ley_2300"\n[[caps]]\nid = "c"\nlimit = 0\nwindow = "1d"',
            r"caps\[0\]\.limit: expected an integer >= 1",
        ),
        (
            'id = "x"\nextends = "co_ley_2300"\n[[caps]]\nid = "c"\nwindow = "1d"',
            r"caps\[0\]\.limit: missing",
        ),
        (
            'id = "x"\nextends = "co_ley_2300"\n[[caps]]\nid = "c"\nlimit = 1\nwindow = "1d"\n'
            'channels = ["fax"]',
            r"caps\[0\]\.channels\[0\]: expected one of sms, email, whatsapp, voice, got 'fax'",
        ),
        (
            'id = "x"\nextends = "co_ley_2300"\n[[caps]]\nid = "c"\nlimit = 1\nwindow = "1d"\n'
            'measure = "channels"\nscope = "channel"',
            r"caps\[0\]: c: counting channels needs scope debtor or debt",
        ),
        (
            'id = "x"\nextends = "co_ley_2300"\n[[caps]]\nid = "caps.debtor_one_channel_7d"\n'
            'limit = 1\nwindow = "1d"\n[[cooldowns]]\nid = "caps.debtor_one_channel_7d"\n'
            'duration = "1d"',
            r"id: rule ids must be unique, repeated: caps\.debtor_one_channel_7d",
        ),
        ('id = "x"\nextends = "co_ley_2300"\nremove_caps = ["nope"]', r"remove_caps\[0\]: no rule"),
        ('id = "x"\nextends = "co_ley_2300"\nsuppress_statuses = ["paid"]', r"suppress_statuses:"),
        ('id = "x"\nextends = "co_ley_2300"\nmax_search_days = 400', r"id: max_search_days"),
        ('id = "x"\nextends = "co_ley_2300"\nextra_holidays = ["soon"]', r"extra_holidays\[0\]"),
        ('id = "x"\nextends = "co_ley_2300"\n[vulnerable]\nmode = "ignore"', r"vulnerable\.mode"),
        ('id = "x"\nextends = "co_ley_2300"\n[[cooldowns]]\nid = "c"', r"cooldowns\[0\]\.duration"),
        (
            'id = "x"\nextends = "co_ley_2300"\nconsent_required = "sms"',
            r"consent_required: expected",
        ),
        ("id = [", r"not valid TOML"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyConfigError, match=message) as error:
        load_rules(path)
    assert str(error.value).startswith(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError, match="cannot read"):
        load_rules(tmp_path / "absent.toml")


def test_the_documented_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "policy.md").read_text("utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    rules = load_rules(write(tmp_path, example, "acme_co.toml"))
    assert rules.extends == "co_ley_2300"
    assert [c.rule_id for c in rules.caps] == ["caps.debtor_one_channel_7d", "caps.debtor_sms_3d"]
