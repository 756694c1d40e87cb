"""Rolling-window caps and cooldowns, on their own (no hours involved)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recaudo.policy import Cap, Contact, Cooldown
from recaudo.policy.caps import Scope
from tests.unit.policy.builders import candidate, contact, utc

NOW = utc(2024, 6, 12, 12)
H = timedelta(hours=1)
D = timedelta(days=1)


class TestContactCaps:
    def test_under_limit_allows(self) -> None:
        cap = Cap("caps.t", 2, 7 * D)
        assert cap.blocked_until(candidate(), [contact(NOW - D)], NOW) is None

    def test_at_limit_waits_for_the_oldest_counted(self) -> None:
        cap = Cap("caps.t", 2, 7 * D)
        history = [contact(NOW - 6 * D), contact(NOW - D), contact(NOW - 8 * D)]
        assert cap.blocked_until(candidate(), history, NOW) == NOW + D

    def test_over_limit_waits_for_the_limit_th_most_recent(self) -> None:
        cap = Cap("caps.t", 2, 7 * D)
        history = [contact(NOW - k * D) for k in (1, 2, 3, 4)]
        # Allowed once only one remains: when the 2nd most recent leaves.
        assert cap.blocked_until(candidate(), history, NOW) == NOW + 5 * D

    def test_window_is_open_at_its_far_end(self) -> None:
        cap = Cap("caps.t", 1, 24 * H)
        assert cap.blocked_until(candidate(), [contact(NOW - 24 * H)], NOW) is None
        later = NOW - 24 * H + timedelta(microseconds=1)
        assert cap.blocked_until(candidate(), [contact(later)], NOW) == later + 24 * H

    def test_future_contacts_count(self) -> None:
        cap = Cap("caps.t", 1, D)
        assert cap.blocked_until(candidate(), [contact(NOW + H)], NOW) == NOW + H + D

    @pytest.mark.parametrize(
        ("scope", "other", "blocked"),
        [
            ("debtor", contact(NOW - H, "email", "A2"), True),
            ("debt", contact(NOW - H, "email", "A2"), False),
            ("debt", contact(NOW - H, "email", "A1"), True),
            ("channel", contact(NOW - H, "email", "A1"), False),
            ("channel", contact(NOW - H, "sms", "A2"), True),
            ("debt_channel", contact(NOW - H, "sms", "A2"), False),
            ("debt_channel", contact(NOW - H, "sms", "A1"), True),
        ],
    )
    def test_scopes(self, scope: Scope, other: Contact, blocked: bool) -> None:
        cap = Cap("caps.t", 1, D, scope=scope)
        until = cap.blocked_until(candidate("sms", "A1"), [other], NOW)
        assert (until is not None) == blocked

    def test_kind_and_channel_filters(self) -> None:
        calls = Cap("caps.calls", 1, D, kinds=frozenset({"call"}))
        assert calls.applies_to(candidate("voice"))
        assert not calls.applies_to(candidate("sms"))
        assert calls.blocked_until(candidate("voice"), [contact(NOW - H, "sms")], NOW) is None
        sms = Cap("caps.sms", 1, D, channels=frozenset({"sms"}))
        assert not sms.applies_to(candidate("email"))
        assert sms.blocked_until(candidate("sms"), [contact(NOW - H, "email")], NOW) is None

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"limit": 0},
            {"window": timedelta(0)},
            {"kinds": frozenset()},
            {"channels": frozenset()},
            {"measure": "channels", "scope": "channel"},
        ],
    )
    def test_rejects_nonsense(self, kwargs: dict[str, object]) -> None:
        args: dict[str, object] = {"rule_id": "caps.t", "limit": 1, "window": D, **kwargs}
        with pytest.raises(ValueError):
            Cap(**args)  # type: ignore[arg-type]


class TestChannelCaps:
    cap = Cap("caps.one_channel", 1, 7 * D, measure="channels")

    def test_same_channel_is_allowed(self) -> None:
        assert self.cap.blocked_until(candidate("sms"), [contact(NOW - D, "sms")], NOW) is None

    def test_another_channel_waits_for_the_last_use_of_the_first(self) -> None:
        history = [contact(NOW - 3 * D, "sms"), contact(NOW - 2 * D, "sms")]
        assert self.cap.blocked_until(candidate("email"), history, NOW) == NOW + 5 * D

    def test_two_channels_already_used_block_even_the_same_one(self) -> None:
        history = [contact(NOW - 3 * D, "email"), contact(NOW - 2 * D, "sms")]
        assert self.cap.blocked_until(candidate("sms"), history, NOW) == NOW + 4 * D

    def test_limit_two_drops_the_stalest_others(self) -> None:
        cap = Cap("caps.two_channels", 2, 7 * D, measure="channels")
        history = [
            contact(NOW - 5 * D, "email"),
            contact(NOW - 4 * D, "whatsapp"),
            contact(NOW - 1 * D, "email"),
        ]
        # Others: email (last 1 d ago), whatsapp (4 d ago); one must leave.
        assert cap.blocked_until(candidate("sms"), history, NOW) == NOW + 3 * D
        assert cap.blocked_until(candidate("email"), history, NOW) is None


class TestCooldown:
    cooldown = Cooldown(
        "cooldown.t",
        7 * D,
        scope="debt",
        kinds=frozenset({"call"}),
        after_kinds=frozenset({"call"}),
    )

    def test_conversation_holds_calls_about_that_debt(self) -> None:
        talk = contact(NOW - 2 * D, "voice", "A1", conversation=True)
        assert self.cooldown.blocked_until(candidate("voice"), [talk], NOW) == NOW + 5 * D
        assert self.cooldown.blocked_until(candidate("voice", "A2"), [talk], NOW) is None
        assert not self.cooldown.applies_to(candidate("sms"))

    def test_attempts_and_other_kinds_do_not_start_it(self) -> None:
        attempt = contact(NOW - D, "voice", "A1")
        texting = contact(NOW - D, "sms", "A1", conversation=True)
        assert self.cooldown.blocked_until(candidate("voice"), [attempt, texting], NOW) is None

    def test_latest_conversation_wins_and_expires(self) -> None:
        talks = [
            contact(NOW - 6 * D, "voice", conversation=True),
            contact(NOW - 1 * D, "voice", conversation=True),
        ]
        assert self.cooldown.blocked_until(candidate("voice"), talks, NOW) == NOW + 6 * D
        old = [contact(NOW - 7 * D, "voice", conversation=True)]
        assert self.cooldown.blocked_until(candidate("voice"), old, NOW) is None
