"""Each jurisdiction preset against the legal edge cases it exists for."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from recaudo.policy import PRESETS, Decision, evaluate, preset, rules_for
from recaudo.policy.model import Channel
from tests.unit.policy.builders import HOME, candidate, contact, context, local, utc

H = timedelta(hours=1)
D = timedelta(days=1)


def decide(jurisdiction: str, at: datetime, channel: Channel = "sms", **kwargs: object) -> Decision:
    ctx = context(jurisdiction, **kwargs)  # type: ignore[arg-type]
    return evaluate(ctx, candidate(channel), at, preset(jurisdiction))


def at(jurisdiction: str, *args: int) -> datetime:
    return local(HOME[jurisdiction][0], *args)


def test_registry() -> None:
    assert set(PRESETS) == {
        "us_reg_f",
        "co_ley_2300",
        "cl_ley_19496",
        "mx_condusef",
        "pe_ley_29571",
        "br_sp",
    }
    assert rules_for(context("br_sp")) is preset("br_sp")
    with pytest.raises(KeyError, match="known: br_sp"):
        preset("xx_nowhere")
    for rules in PRESETS.values():
        assert rules.description


class TestUsRegF:
    J = "us_reg_f"

    @pytest.mark.parametrize("channel", ["voice", "sms", "email"])
    def test_21_00_boundary(self, channel: Channel) -> None:
        assert decide(self.J, at(self.J, 2024, 6, 4, 20, 59, 59), channel).outcome == "DISPATCH"
        late = decide(self.J, at(self.J, 2024, 6, 4, 21, 0), channel)
        assert late.outcome == "DEFER"
        assert late.reason_codes == ("OUTSIDE_ALLOWED_HOURS",)
        assert late.not_before == at(self.J, 2024, 6, 5, 8, 0)

    def test_08_00_boundary_and_weekends(self) -> None:
        assert decide(self.J, at(self.J, 2024, 6, 4, 7, 59, 59)).not_before == at(
            self.J, 2024, 6, 4, 8
        )
        assert decide(self.J, at(self.J, 2024, 6, 4, 8, 0)).outcome == "DISPATCH"
        # No day-of-week or holiday rule in Regulation F.
        assert decide(self.J, at(self.J, 2024, 6, 9, 12)).outcome == "DISPATCH"  # Sunday
        assert decide(self.J, at(self.J, 2024, 7, 4, 12)).outcome == "DISPATCH"

    def test_local_time_is_the_debtors(self) -> None:
        instant = utc(2024, 6, 5, 2, 30)  # 22:30 in New York, 19:30 in Los Angeles
        assert decide(self.J, instant).outcome == "DEFER"
        assert decide(self.J, instant, zone="America/Los_Angeles").outcome == "DISPATCH"

    def test_dst_spring_forward_defers_to_08_00_wall_clock(self) -> None:
        night = utc(2024, 3, 10, 6, 30)  # 01:30 EST, the night the clocks jump
        assert decide(self.J, night).not_before == utc(2024, 3, 10, 12, 0)  # 08:00 EDT

    def test_seven_calls_in_seven_days_per_debt(self) -> None:
        now = at(self.J, 2024, 6, 12, 12)
        calls = [contact(now - k * 20 * H, "voice", "A1") for k in range(1, 8)]
        blocked = decide(self.J, now, "voice", history=calls)
        assert blocked.outcome == "DEFER"
        assert blocked.rules_fired == (("caps.per_debt_calls_7d", "CAP_REACHED"),)
        assert blocked.not_before == calls[-1].at + 7 * D
        six = decide(self.J, now, "voice", history=calls[:6])
        assert six.outcome == "DISPATCH"
        # Another debt, or a message, is not counted against this cap.
        ctx = context(self.J, history=calls)
        rules = preset(self.J)
        assert evaluate(ctx, candidate("voice", "A2"), now, rules).outcome == "DISPATCH"
        assert evaluate(ctx, candidate("sms"), now, rules).outcome == "DISPATCH"

    def test_no_call_within_seven_days_of_a_conversation(self) -> None:
        now = at(self.J, 2024, 6, 12, 12)
        talk = contact(now - 3 * D, "voice", "A1", conversation=True)
        held = decide(self.J, now, "voice", history=[talk])
        assert held.rules_fired == (("cooldown.per_debt_call_after_conversation_7d", "COOLDOWN"),)
        assert held.not_before == talk.at + 7 * D
        assert decide(self.J, now, "email", history=[talk]).outcome == "DISPATCH"
        ctx = context(self.J, history=[talk])
        assert evaluate(ctx, candidate("voice", "A2"), now, preset(self.J)).outcome == "DISPATCH"

    def test_cooldown_ending_at_night_waits_for_morning(self) -> None:
        talk = contact(at(self.J, 2024, 6, 5, 20, 30), "voice", conversation=True)
        now = at(self.J, 2024, 6, 12, 9)
        held = decide(self.J, now, "voice", history=[talk])
        # Seven days after 20:30 is 20:30, inside the window.
        assert held.not_before == at(self.J, 2024, 6, 12, 20, 30)
        late_talk = contact(at(self.J, 2024, 6, 5, 20, 59), "voice", conversation=True)
        evening = at(self.J, 2024, 6, 12, 20, 0)
        assert decide(self.J, evening, "voice", history=[late_talk]).not_before == at(
            self.J, 2024, 6, 12, 20, 59
        )
        later_talk = contact(at(self.J, 2024, 6, 5, 21, 30), "voice", conversation=True)
        assert decide(self.J, evening, "voice", history=[later_talk]).not_before == at(
            self.J, 2024, 6, 13, 8, 0
        )


class TestCoLey2300:
    J = "co_ley_2300"

    def test_sunday_is_closed(self) -> None:
        sunday = decide(self.J, at(self.J, 2024, 6, 16, 10))
        assert sunday.rules_fired == (("quiet_hours.weekday", "OUTSIDE_ALLOWED_DAYS"),)
        assert sunday.not_before == at(self.J, 2024, 6, 17, 7)

    def test_holiday_is_closed(self) -> None:
        # 2024-07-01, San Pedro y San Pablo (moved to Monday by Ley Emiliani).
        holiday = decide(self.J, at(self.J, 2024, 7, 1, 10))
        assert holiday.rules_fired == (("quiet_hours.holiday", "HOLIDAY"),)
        assert holiday.not_before == at(self.J, 2024, 7, 2, 7)

    def test_weekday_and_saturday_windows(self) -> None:
        assert decide(self.J, at(self.J, 2024, 6, 4, 7, 0)).outcome == "DISPATCH"
        assert decide(self.J, at(self.J, 2024, 6, 4, 18, 59)).outcome == "DISPATCH"
        assert decide(self.J, at(self.J, 2024, 6, 4, 19, 0)).not_before == at(self.J, 2024, 6, 5, 7)
        assert decide(self.J, at(self.J, 2024, 6, 15, 7, 30)).not_before == at(
            self.J, 2024, 6, 15, 8
        )
        assert decide(self.J, at(self.J, 2024, 6, 15, 14, 59)).outcome == "DISPATCH"
        # Saturday 15:00 -> Monday 07:00 (Sunday closed).
        assert decide(self.J, at(self.J, 2024, 6, 15, 15, 0)).not_before == at(
            self.J, 2024, 6, 17, 7
        )

    def test_one_contact_a_day(self) -> None:
        morning = contact(at(self.J, 2024, 6, 4, 9), "sms")
        second = decide(self.J, at(self.J, 2024, 6, 4, 16), "sms", history=[morning])
        assert second.rules_fired == (("caps.debtor_contacts_1d", "CAP_REACHED"),)
        assert second.not_before == at(self.J, 2024, 6, 5, 9)

    def test_one_channel_a_week(self) -> None:
        tuesday = contact(at(self.J, 2024, 6, 4, 9), "sms")
        thursday = at(self.J, 2024, 6, 6, 10)
        assert decide(self.J, thursday, "sms", history=[tuesday]).outcome == "DISPATCH"
        email = decide(self.J, thursday, "email", history=[tuesday])
        assert email.rules_fired == (("caps.debtor_one_channel_7d", "CAP_REACHED"),)
        assert email.not_before == at(self.J, 2024, 6, 11, 9)

    def test_only_authorised_channels(self) -> None:
        refused = decide(self.J, at(self.J, 2024, 6, 4, 10), "email", consent=["sms"])
        assert refused.reason_codes == ("NO_CONSENT",)


class TestClLey19496:
    J = "cl_ley_19496"

    def test_one_call_a_week(self) -> None:
        monday_call = contact(at(self.J, 2024, 6, 3, 10), "voice")
        wednesday = at(self.J, 2024, 6, 5, 10)
        held = decide(self.J, wednesday, "voice", history=[monday_call])
        assert held.rules_fired == (("caps.debtor_calls_7d", "CAP_REACHED"),)
        assert held.not_before == at(self.J, 2024, 6, 10, 10)
        assert decide(self.J, wednesday, "sms", history=[monday_call]).outcome == "DISPATCH"

    def test_two_messages_a_week_two_days_apart(self) -> None:
        monday = contact(at(self.J, 2024, 6, 3, 10), "sms")
        tuesday = decide(self.J, at(self.J, 2024, 6, 4, 10), "email", history=[monday])
        assert tuesday.rules_fired == (("caps.debtor_messages_spacing_2d", "CAP_REACHED"),)
        assert tuesday.not_before == at(self.J, 2024, 6, 5, 10)
        wednesday = contact(at(self.J, 2024, 6, 5, 10), "email")
        friday = decide(self.J, at(self.J, 2024, 6, 7, 11), "sms", history=[monday, wednesday])
        assert friday.rules_fired == (("caps.debtor_messages_7d", "CAP_REACHED"),)
        assert friday.not_before == at(self.J, 2024, 6, 10, 10)

    def test_working_days_only(self) -> None:
        saturday = decide(self.J, at(self.J, 2024, 6, 8, 10))
        assert saturday.rules_fired == (("quiet_hours.weekday", "OUTSIDE_ALLOWED_DAYS"),)
        assert saturday.not_before == at(self.J, 2024, 6, 10, 8)
        # 2024-09-20 is a holiday too (interferiado after Fiestas Patrias).
        patrias = decide(self.J, at(self.J, 2024, 9, 18, 10))
        assert patrias.reason_codes == ("HOLIDAY",)
        assert patrias.not_before == at(self.J, 2024, 9, 23, 8)
        assert decide(self.J, at(self.J, 2024, 6, 4, 19, 59)).outcome == "DISPATCH"
        assert decide(self.J, at(self.J, 2024, 6, 4, 20, 0)).outcome == "DEFER"

    def test_deferral_across_the_april_dst_end(self) -> None:
        # Clocks fall back on Sunday 2024-04-07 (-03 -> -04); Monday 08:00 is -04.
        friday_night = at(self.J, 2024, 4, 5, 21)
        assert decide(self.J, friday_night).not_before == utc(2024, 4, 8, 12, 0)

    def test_deferral_across_the_september_dst_start(self) -> None:
        # Clocks jump at Sunday 2022-09-11 00:00 -04 -> 01:00 -03.
        friday_night = at(self.J, 2022, 9, 9, 21)
        assert decide(self.J, friday_night).not_before == utc(2022, 9, 12, 11, 0)


class TestMxCondusef:
    J = "mx_condusef"

    def test_07_to_22_every_day(self) -> None:
        assert decide(self.J, at(self.J, 2024, 6, 4, 6, 59)).not_before == at(self.J, 2024, 6, 4, 7)
        assert decide(self.J, at(self.J, 2024, 6, 4, 21, 59), "voice").outcome == "DISPATCH"
        assert decide(self.J, at(self.J, 2024, 6, 4, 22, 0), "voice").not_before == at(
            self.J, 2024, 6, 5, 7
        )
        assert decide(self.J, at(self.J, 2024, 6, 9, 10)).outcome == "DISPATCH"  # Sunday
        assert decide(self.J, at(self.J, 2024, 9, 16, 10)).outcome == "DISPATCH"  # holiday

    def test_time_zone_of_the_debtor(self) -> None:
        instant = utc(2024, 6, 5, 4, 30)  # 22:30 in Mexico City, 21:30 in Tijuana
        assert decide(self.J, instant).outcome == "DEFER"
        assert decide(self.J, instant, zone="America/Tijuana").outcome == "DISPATCH"


class TestPeLey29571:
    J = "pe_ley_29571"

    def test_saturday_call(self) -> None:
        saturday = decide(self.J, at(self.J, 2024, 6, 8, 10), "voice")
        assert saturday.rules_fired == (("quiet_hours.weekday", "OUTSIDE_ALLOWED_DAYS"),)
        assert saturday.not_before == at(self.J, 2024, 6, 10, 7)

    def test_20_00_to_07_00(self) -> None:
        assert decide(self.J, at(self.J, 2024, 6, 4, 19, 59), "voice").outcome == "DISPATCH"
        assert decide(self.J, at(self.J, 2024, 6, 4, 20, 0), "voice").not_before == at(
            self.J, 2024, 6, 5, 7
        )
        assert decide(self.J, at(self.J, 2024, 6, 5, 6, 59), "voice").not_before == at(
            self.J, 2024, 6, 5, 7
        )

    def test_holidays(self) -> None:
        # 28 and 29 July 2024 (Sunday and Monday): Fiestas Patrias.
        holiday = decide(self.J, at(self.J, 2024, 7, 29, 10), "voice")
        assert holiday.reason_codes == ("HOLIDAY",)
        assert holiday.not_before == at(self.J, 2024, 7, 30, 7)

    def test_messages_follow_the_call_window(self) -> None:
        assert decide(self.J, at(self.J, 2024, 6, 8, 10), "sms").outcome == "DEFER"


class TestBrSp:
    J = "br_sp"

    def test_saturday_14_00(self) -> None:
        assert decide(self.J, at(self.J, 2024, 6, 8, 13, 59, 59), "voice").outcome == "DISPATCH"
        closed = decide(self.J, at(self.J, 2024, 6, 8, 14, 0), "voice")
        assert closed.rules_fired == (("quiet_hours.local_window", "OUTSIDE_ALLOWED_HOURS"),)
        assert closed.not_before == at(self.J, 2024, 6, 10, 8)

    def test_weekdays_and_sunday(self) -> None:
        assert decide(self.J, at(self.J, 2024, 6, 4, 19, 59), "voice").outcome == "DISPATCH"
        assert decide(self.J, at(self.J, 2024, 6, 4, 20, 0), "voice").outcome == "DEFER"
        assert decide(self.J, at(self.J, 2024, 6, 9, 10), "voice").reason_codes == (
            "OUTSIDE_ALLOWED_DAYS",
        )

    def test_state_and_national_holidays(self) -> None:
        assert decide(self.J, at(self.J, 2024, 7, 9, 10), "voice").reason_codes == ("HOLIDAY",)
        assert decide(self.J, at(self.J, 2024, 11, 20, 10), "voice").reason_codes == ("HOLIDAY",)
        # Elsewhere in Brazil 9 July is a working day.
        rio = decide(self.J, at(self.J, 2024, 7, 9, 10), "voice", subdivision="RJ")
        assert rio.outcome == "DISPATCH"

    def test_historical_dst_start(self) -> None:
        # Saturday 2018-11-03 after 14:00; clocks jumped at Sunday 00:00 (-03 -> -02).
        saturday = at(self.J, 2018, 11, 3, 15)
        assert decide(self.J, saturday).not_before == utc(2018, 11, 5, 10, 0)  # 08:00 -02

    def test_historical_dst_end(self) -> None:
        # Clocks fell back at 2019-02-17 00:00 -02 -> 2019-02-16 23:00 -03.
        assert decide(self.J, at(self.J, 2019, 2, 16, 15)).not_before == utc(2019, 2, 18, 11, 0)
