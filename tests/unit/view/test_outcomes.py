"""Which sends still await their outcome, as the view has heard them."""

from __future__ import annotations

from recaudo.view.outcomes import Send, awaiting_outcome
from recaudo.view.timebase import to_ms
from tests.unit.view.builders import at, decision, response, run


def test_a_send_awaits_until_accepted_failed_bounced_expired_or_unknown() -> None:
    sends = [Send(to_ms(at(0)), "sms", f"d{i}") for i in range(6)]
    answers = [
        response(status, 0.1, dispatch=f"d{i}")
        for i, status in enumerate(
            ["ACCEPTED", "FAILED", "BOUNCED", "EXPIRED", "OUTCOME_UNKNOWN"], start=1
        )
    ]
    # Decided and delivered-reported but never accepted: still awaiting.
    state, _ = run(
        [decision(0, dispatch="d0"), response("DELIVERED", 0.2, dispatch="d0"), *answers]
    )
    assert awaiting_outcome(state, sends, after=-1) == [sends[0]]
    assert awaiting_outcome(state, [], after=-1) == []


def test_a_send_unheard_of_awaits_and_a_stale_one_does_not() -> None:
    state, _ = run([decision(0, dispatch="d1")])
    sends = [Send(to_ms(at(0)), "sms", "d1"), Send(to_ms(at(0)), "email", "e1")]
    assert awaiting_outcome(state, sends, after=-1) == sends
    assert awaiting_outcome(state, sends, after=to_ms(at(0))) == []
