"""Context features: deterministic VW text built from what the view knows."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings

from recaudo.contracts.records import DebtorView
from recaudo.learning.bandit import Bandit, LearnerConfig
from recaudo.learning.features import (
    WAIT_LINE,
    adf_example,
    balance_band,
    context_features,
    labelled_example,
)
from tests.unit.learning.fixtures import ALL_ACTIONS, a_view, instants, views

TOKEN = re.compile(r"^[^\s|:]+(=[^\s|:]+|:-?[0-9.e+-]+)$")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(view=views(), now=instants())
def test_features_are_deterministic_well_formed_vw_text(view: DebtorView, now: datetime) -> None:
    tried = [c.channel for c in view.channels[:2]]
    features = context_features(view, "A1", now, tried)
    again = context_features(view.model_copy(deep=True), "A1", now, list(tried))
    assert features == again
    example = adf_example(features, ALL_ACTIONS, tried)
    assert example == adf_example(again, ALL_ACTIONS, tried)
    assert example[0].startswith("shared |s ")
    for token in example[0].removeprefix("shared |s ").split(" "):
        assert TOKEN.match(token), token
    assert all(line.startswith("|a ") for line in example[1:])
    assert len(example) == len(ALL_ACTIONS) + 1


def test_features_read_the_view_in_the_debtors_local_time() -> None:
    view = a_view()
    monday_2pm_utc = datetime(2024, 3, 4, 14, tzinfo=UTC)  # 09:00 in Bogota
    f = context_features(view, "A1", monday_2pm_utc, ["sms", "voice"]).as_dict()
    assert f["hour"] == "h09" and f["weekday"] == "d0"
    assert f["country"] == "CO"
    assert f["tried_sms"] == "yes" and f["tried_voice"] == "yes" and f["last_tried"] == "voice"
    assert f["tried_n"] == 2.0
    assert f["bucket"] == "DPD_31_60" and f["risk"] == "high" and f["lang"] == "es"
    assert f["balance"] == "b5"  # 120 000.00: the top band
    assert f["sms_replied"] != 0 and f["email_failed"] != 0 and f["voice_sent"] == 0
    assert f["promises_broken"] != 0 and f["promises_kept"] == 0
    assert f["dispute_open"] == "no"


def test_balance_bands() -> None:
    assert [balance_band(m) for m in (0, 9_999, 10_000, 5_000_000, 10**9)] == [
        "b0",
        "b0",
        "b1",
        "b5",
        "b5",
    ]


def test_vw_reads_the_features_of_a_real_view() -> None:
    features = context_features(a_view(), "A1", datetime(2024, 3, 4, 14, tzinfo=UTC))
    with Bandit(LearnerConfig()) as b:
        b.learn(features, ALL_ACTIONS[:5], 2, 1.0, 0.2)
        assert len(b.pmf(features, ALL_ACTIONS[:5])) == 5


def test_a_label_goes_on_the_chosen_line_only() -> None:
    features = context_features(a_view(), None, datetime(2024, 3, 4, tzinfo=UTC))
    lines = labelled_example(features, ALL_ACTIONS[:3], 1, -0.5, 0.25)
    assert lines[2].startswith("1:-0.5:0.25 |a ")
    assert lines[1].startswith("|a ") and lines[3].startswith("|a ")
    with pytest.raises(ValueError, match="probability must be in"):
        labelled_example(features, ALL_ACTIONS[:3], 1, -0.5, 0.0)


def test_each_action_says_whether_it_is_the_static_choice_and_its_channels_reply_rate() -> None:
    view = a_view()
    features = context_features(view, "A1", datetime(2024, 3, 4, 14, tzinfo=UTC))
    shared = features.as_dict()
    actions = ALL_ACTIONS[:6]
    baseline = actions[2]
    lines = adf_example(features, actions, baseline=baseline, wait=True)
    assert len(lines) == len(actions) + 2
    assert lines[-1] == WAIT_LINE
    for action, line in zip(actions, lines[1:-1], strict=True):
        assert ("static=yes" in line) == (action == baseline), line
        assert ("static_ch=yes" in line) == (action.channel == baseline.channel), line
        rate = shared[f"{action.channel}_reply_rate"]
        assert isinstance(rate, float)
        assert f"ch_reply_rate:{rate:.4g}" in line
    # Without a baseline the lines say nothing about the static choice.
    assert not any("static" in line for line in adf_example(features, actions))
    # A channel with replies on record ranks above one without.
    sms = next(c for c in view.channels if c.channel == "sms")
    assert sms.replied and float(shared["sms_reply_rate"]) > float(shared["voice_reply_rate"])


def test_not_contacting_is_one_more_option_a_label_can_go_on() -> None:
    features = context_features(a_view(), None, datetime(2024, 3, 4, tzinfo=UTC))
    actions = ALL_ACTIONS[:3]
    lines = labelled_example(features, actions, 3, 0.0, 0.5, wait=True)
    assert lines[-1] == f"3:0:0.5 {WAIT_LINE}"
    with pytest.raises(ValueError, match="not one of the 3 options"):
        labelled_example(features, actions, 3, 0.0, 0.5)
