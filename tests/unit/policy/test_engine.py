"""evaluate(): suppressions, the audit list, deferral and the edges of the context."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from recaudo.policy import (
    Candidate,
    Cap,
    DebtState,
    RuleSet,
    SuppressionRules,
    VulnerablePolicy,
    WeeklyHours,
    evaluate,
    preset,
    trim_history,
)
from tests.unit.policy.builders import candidate, contact, context, local

CO = preset("co_ley_2300")
US = preset("us_reg_f")
# A Tuesday, 10:00 in Bogota: open under co_ley_2300.
OPEN = local("America/Bogota", 2024, 6, 4, 10, 0)


class TestSuppression:
    @pytest.mark.parametrize(
        ("flag", "rule", "code"),
        [
            ("deceased", "suppress.deceased", "DECEASED"),
            ("bankruptcy", "suppress.bankruptcy", "BANKRUPTCY"),
            ("cease_and_desist", "suppress.cease_and_desist", "CEASE_AND_DESIST"),
        ],
    )
    def test_flags(self, flag: str, rule: str, code: str) -> None:
        decision = evaluate(context(flags=[flag]), candidate(), OPEN, CO)  # type: ignore[list-item]
        assert decision.outcome == "SUPPRESS"
        assert decision.rules_fired == ((rule, code),)
        assert decision.not_before is None

    @pytest.mark.parametrize(
        ("debt", "code"),
        [
            (DebtState("paid"), "DEBT_PAID"),
            (DebtState("settled"), "DEBT_PAID"),
            (DebtState(dispute_open=True), "DISPUTE_OPEN"),
        ],
    )
    def test_debt_state(self, debt: DebtState, code: str) -> None:
        decision = evaluate(context(debts={"A1": debt}), candidate(), OPEN, CO)
        assert decision.outcome == "SUPPRESS"
        assert decision.reason_codes == (code,)
        other_debt = evaluate(context(debts={"A1": debt}), candidate(debt_id="A2"), OPEN, CO)
        assert other_debt.outcome == "DISPATCH"

    def test_written_off_is_collected_unless_configured(self) -> None:
        ctx = context(debts={"A1": DebtState("written_off")})
        assert evaluate(ctx, candidate(), OPEN, CO).outcome == "DISPATCH"
        strict = replace(
            CO,
            id="strict",
            suppression=replace(
                CO.suppression, statuses=frozenset({"paid", "settled", "written_off"})
            ),
        )
        decision = evaluate(ctx, candidate(), OPEN, strict)
        assert decision.rules_fired == (("suppress.debt_written_off", "DEBT_WRITTEN_OFF"),)

    def test_cannot_stop_suppressing_paid_debts(self) -> None:
        with pytest.raises(ValueError, match="paid and settled"):
            SuppressionRules(statuses=frozenset({"settled"}))

    def test_per_channel_facts(self) -> None:
        assert evaluate(context(opted_out=["sms"]), candidate("sms"), OPEN, CO).reason_codes == (
            "OPTED_OUT",
        )
        assert evaluate(context(opted_out=["sms"]), candidate("email"), OPEN, CO).outcome == (
            "DISPATCH"
        )
        no_consent = evaluate(context(consent=["email"]), candidate("sms"), OPEN, CO)
        assert no_consent.rules_fired == (("suppress.no_consent", "NO_CONSENT"),)
        invalid = evaluate(context(valid=["email"]), candidate("sms"), OPEN, CO)
        assert invalid.rules_fired == (("suppress.invalid_address", "INVALID_ADDRESS"),)

    def test_defaults_are_safe(self) -> None:
        # A context that says nothing about addresses or consent is not contacted.
        bare = replace(context(), consent=frozenset(), valid_addresses=frozenset())
        assert evaluate(bare, candidate("sms"), OPEN, CO).reason_codes == (
            "NO_CONSENT",
            "INVALID_ADDRESS",
        )

    def test_vulnerable_restrict_and_suppress(self) -> None:
        ctx = context(flags=["vulnerable"])
        call = evaluate(ctx, candidate("voice"), OPEN, CO)
        assert call.rules_fired == (("suppress.vulnerable", "VULNERABLE"),)
        assert evaluate(ctx, candidate("sms"), OPEN, CO).outcome == "DISPATCH"
        # Restricted: the house cap of one contact a week applies on top.
        week_ago = context(flags=["vulnerable"], history=[contact(OPEN - timedelta(days=3))])
        capped = evaluate(week_ago, candidate("sms"), OPEN, CO)
        assert ("vulnerable.debtor_contacts_7d", "CAP_REACHED") in capped.rules_fired
        assert capped.outcome == "DEFER"
        strict = replace(
            CO,
            id="strict",
            suppression=replace(CO.suppression, vulnerable=VulnerablePolicy("suppress")),
        )
        assert evaluate(ctx, candidate("sms"), OPEN, strict).reason_codes == ("VULNERABLE",)


class TestAudit:
    def test_every_rule_that_fired_is_listed(self) -> None:
        sunday = local("America/Bogota", 2024, 6, 9, 10)
        ctx = context(
            flags=["deceased"],
            opted_out=["sms"],
            debts={"A1": DebtState(dispute_open=True)},
            history=[contact(sunday - timedelta(hours=30), "email")],
        )
        decision = evaluate(ctx, candidate("sms"), sunday, CO)
        assert decision.outcome == "SUPPRESS"
        assert decision.rules_fired == (
            ("suppress.deceased", "DECEASED"),
            ("suppress.dispute_open", "DISPUTE_OPEN"),
            ("suppress.opt_out", "OPTED_OUT"),
            ("quiet_hours.weekday", "OUTSIDE_ALLOWED_DAYS"),
            ("caps.debtor_one_channel_7d", "CAP_REACHED"),
        )

    def test_defer_lists_time_and_caps(self) -> None:
        evening = local("America/Bogota", 2024, 6, 4, 19, 30)
        ctx = context(history=[contact(evening - timedelta(hours=2))])
        decision = evaluate(ctx, candidate("sms"), evening, CO)
        assert decision.outcome == "DEFER"
        assert decision.reason_codes == ("OUTSIDE_ALLOWED_HOURS", "CAP_REACHED")
        # The cap clears at 17:30 the next day, inside that day's window.
        assert decision.not_before == local("America/Bogota", 2024, 6, 5, 17, 30)

    def test_dispatch_lists_nothing_and_says_when_the_window_closes(self) -> None:
        decision = evaluate(context(), candidate(), OPEN, CO)
        assert decision.outcome == "DISPATCH"
        assert decision.rules_fired == ()
        assert decision.ruleset_id == "co_ley_2300"
        assert decision.window_closes_at == local("America/Bogota", 2024, 6, 4, 19, 0)


class TestBoundary:
    def test_now_must_be_aware_and_any_offset_is_normalised(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            evaluate(context(), candidate(), datetime(2024, 6, 4, 15), CO)
        bogota_offset = OPEN.astimezone(timezone(timedelta(hours=-5)))
        assert evaluate(context(), candidate(), bogota_offset, CO) == evaluate(
            context(), candidate(), OPEN, CO
        )

    def test_contacts_are_normalised_to_utc(self) -> None:
        at = datetime(2024, 6, 4, 9, tzinfo=timezone(timedelta(hours=-5)))
        assert contact(at).at == at and contact(at).at.tzinfo is UTC
        with pytest.raises(ValueError):
            contact(datetime(2024, 6, 4, 9))

    def test_unknown_channel(self) -> None:
        with pytest.raises(ValueError, match="unknown channel"):
            Candidate("D1", "A1", "fax", "t", 0)  # type: ignore[arg-type]

    def test_kind_is_derived(self) -> None:
        assert candidate("voice").kind == "call"
        assert {candidate(c).kind for c in ("sms", "email", "whatsapp")} == {"message"}

    def test_unknown_time_zone_suppresses(self) -> None:
        decision = evaluate(context(zone="Mars/Base"), candidate(), OPEN, CO)
        assert decision.outcome == "SUPPRESS"
        assert decision.rules_fired == (("context.time_zone", "UNKNOWN_TIME_ZONE"),)

    def test_unknown_holiday_calendar_suppresses_only_when_needed(self) -> None:
        decision = evaluate(context(country="XX"), candidate(), OPEN, CO)
        assert decision.rules_fired == (("context.holiday_calendar", "UNKNOWN_HOLIDAY_CALENDAR"),)
        # The US preset has no holiday rule: the calendar is never consulted.
        us = context("us_reg_f", country="XX")
        assert evaluate(us, candidate(), local("America/New_York", 2024, 6, 4, 10), US).outcome == (
            "DISPATCH"
        )

    def test_no_window_within_the_horizon_suppresses(self) -> None:
        rules = RuleSet(
            id="sundays",
            description="",
            call_hours=WeeklyHours.build(sunday=["10:00-11:00"]),
            message_hours=WeeklyHours.build(sunday=["10:00-11:00"]),
            max_search_days=3,
        )
        decision = evaluate(context(), candidate(), OPEN, rules)
        assert decision.outcome == "SUPPRESS"
        assert decision.reason_codes == ("OUTSIDE_ALLOWED_DAYS", "NO_OPEN_WINDOW")
        never = replace(rules, id="never", message_hours=WeeklyHours(((),) * 7))
        assert evaluate(context(), candidate(), OPEN, never).outcome == "SUPPRESS"

    def test_a_long_cap_defers_past_the_window_search(self) -> None:
        # The search starts when the cap clears, not at now.
        rules = replace(CO, id="quarterly", caps=(Cap("caps.quarterly", 1, timedelta(days=90)),))
        ctx = context(history=[contact(OPEN - timedelta(days=1))])
        decision = evaluate(ctx, candidate(), OPEN, rules)
        assert decision.outcome == "DEFER"
        assert decision.not_before is not None
        assert decision.not_before >= OPEN + timedelta(days=89)

    def test_requires_opt_out_text(self) -> None:
        at = local("America/New_York", 2024, 6, 4, 10)
        ctx = context("us_reg_f")
        assert evaluate(ctx, candidate("email"), at, US).requires_opt_out_text
        assert evaluate(ctx, candidate("sms"), at, US).requires_opt_out_text
        assert not evaluate(ctx, candidate("voice"), at, US).requires_opt_out_text
        assert US.requires_opt_out_text >= {"email", "sms"}
        assert not evaluate(context(), candidate("sms"), OPEN, CO).requires_opt_out_text


class TestWindowClosing:
    """A dispatch needs ``min_send`` inside the window to be sent at all."""

    MINUTE = timedelta(seconds=60)
    # Friday 2 October 2026, Bogota: open until 19:00, then Saturday 08:00.
    FRIDAY = (2026, 10, 2)

    def test_too_little_window_left_defers_to_the_next_window(self) -> None:
        now = local("America/Bogota", *self.FRIDAY, 18, 59, 30)
        decision = evaluate(context(), candidate(), now, CO, min_send=self.MINUTE)
        assert decision.outcome == "DEFER"
        assert decision.rules_fired == (("quiet_hours.window_closing", "WINDOW_CLOSING"),)
        assert decision.not_before == local("America/Bogota", 2026, 10, 3, 8, 0)

    def test_exactly_min_send_left_dispatches_until_the_close(self) -> None:
        now = local("America/Bogota", *self.FRIDAY, 18, 59, 0)
        decision = evaluate(context(), candidate(), now, CO, min_send=self.MINUTE)
        assert decision.outcome == "DISPATCH"
        assert decision.window_closes_at == local("America/Bogota", *self.FRIDAY, 19, 0)

    def test_a_deferral_never_lands_in_a_window_s_last_moments(self) -> None:
        # A daily cap clears at 18:59:30, too late for Friday's window.
        now = local("America/Bogota", *self.FRIDAY, 10, 0)
        earlier = contact(local("America/Bogota", 2026, 10, 1, 18, 59, 30))
        ctx = context(history=[earlier])
        decision = evaluate(ctx, candidate(), now, CO, min_send=self.MINUTE)
        assert decision.outcome == "DEFER"
        assert decision.not_before == local("America/Bogota", 2026, 10, 3, 8, 0)

    def test_without_min_send_the_last_instant_dispatches(self) -> None:
        now = local("America/Bogota", *self.FRIDAY, 18, 59, 59)
        assert evaluate(context(), candidate(), now, CO).outcome == "DISPATCH"

    def test_min_send_cannot_be_negative(self) -> None:
        with pytest.raises(ValueError, match="min_send"):
            evaluate(context(), candidate(), OPEN, CO, min_send=-self.MINUTE)


class TestHistory:
    def test_trim_keeps_what_the_rules_can_see(self) -> None:
        old = contact(OPEN - timedelta(days=8))
        recent = contact(OPEN - timedelta(days=6))
        future = contact(OPEN + timedelta(hours=1))
        assert CO.lookback == timedelta(days=7)
        assert trim_history([old, recent, future], OPEN, CO) == (recent, future)

    def test_contacts_older_than_the_lookback_are_ignored(self) -> None:
        ctx = context(history=[contact(OPEN - timedelta(days=30), "email")] * 50)
        assert evaluate(ctx, candidate("sms"), OPEN, CO).outcome == "DISPATCH"

    def test_rule_ids_must_be_unique(self) -> None:
        with pytest.raises(ValueError, match=r"caps\.debtor_contacts_1d"):
            replace(CO, caps=(*CO.caps, Cap("caps.debtor_contacts_1d", 3, timedelta(days=1))))
