"""The retry rule: a provider is called again after a failure only when that
cannot send the message twice (it did not take the request, or it drops a
repeated key), or when asking it says it never received the message."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from connectors.providers.base import ProviderError, SendResult, TransientProviderError
from connectors.retry import RetryPolicy, Unknown, send_with_retries

POLICY = RetryPolicy(max_attempts=4, base_s=0.0, cap_s=0.0)
ACCEPTED = SendResult(status="ACCEPTED", provider_message_id="m-1")

#: What one call does: fail with this ``sent`` flag, or succeed (the string).
Call = bool | None | str
#: What asking the provider says: it has it, never got it, or cannot tell.
Answer = str


@dataclass
class Provider:
    calls: list[Call]
    answers: list[Answer]
    made: list[Call] = field(default_factory=list)
    asked: int = 0

    async def send(self, _attempt: int) -> SendResult:
        call = self.calls[len(self.made)] if len(self.made) < len(self.calls) else "ok"
        self.made.append(call)
        if isinstance(call, str):
            return ACCEPTED
        raise TransientProviderError("boom", "X", sent=call)

    async def ask(self) -> SendResult | None:
        answer = self.answers[self.asked] if self.asked < len(self.answers) else "cannot"
        self.asked += 1
        if answer == "has it":
            return ACCEPTED
        if answer == "never got it":
            return None
        raise ProviderError("cannot tell")


async def no_wait(_: float) -> None:
    return None


def run(provider: Provider, *, deduplicates: bool, can_ask: bool) -> SendResult | Unknown:
    return asyncio.run(
        send_with_retries(
            provider.send,
            POLICY,
            random.Random(0),
            deduplicates=deduplicates,
            ask=provider.ask if can_ask else None,
            sleep=no_wait,
        )
    )


calls = st.lists(st.sampled_from([False, None, True, "ok"]), max_size=6)
answers = st.lists(st.sampled_from(["has it", "never got it", "cannot"]), max_size=6)


@given(calls=calls, answers=answers, deduplicates=st.booleans(), can_ask=st.booleans())
def test_a_call_that_may_have_sent_is_repeated_only_when_that_cannot_send_twice(
    calls: list[Call], answers: list[Answer], deduplicates: bool, can_ask: bool
) -> None:
    provider = Provider(calls, answers)
    outcome = run(provider, deduplicates=deduplicates, can_ask=can_ask)
    made = provider.made
    assert 1 <= len(made) <= POLICY.max_attempts
    # Every call but the last failed; each call after a failure that may
    # have sent is allowed by the provider de-duplicating, or by its own
    # answer that it never received the message.
    said_never = iter(a for a in answers if a == "never got it")
    for failure in made[:-1]:
        assert not isinstance(failure, str)
        if failure is not False and not deduplicates:
            assert can_ask and next(said_never, None) == "never got it"
    last = made[-1]
    if isinstance(last, str):
        assert outcome == ACCEPTED
    elif last is False:
        assert isinstance(outcome, SendResult) and outcome.status == "FAILED"
    else:
        # The last call may have sent it: never reported FAILED (which would
        # let the orchestrator try another channel at once) unless the
        # provider said it does not have it.
        if isinstance(outcome, SendResult) and outcome.status == "FAILED":
            assert can_ask and answers[provider.asked - 1] == "never got it"
        else:
            assert outcome == ACCEPTED or isinstance(outcome, Unknown)


def test_a_timeout_on_a_provider_that_does_not_deduplicate_is_not_repeated() -> None:
    provider = Provider([None], [])
    outcome = run(provider, deduplicates=False, can_ask=False)
    assert isinstance(outcome, Unknown) and provider.made == [None]


def test_a_refused_connection_is_repeated_until_it_goes_through() -> None:
    provider = Provider([False, False], [])
    assert run(provider, deduplicates=False, can_ask=False) == ACCEPTED
    assert provider.made == [False, False, "ok"]


def test_a_provider_that_deduplicates_is_called_again_after_a_timeout() -> None:
    provider = Provider([None], [])
    assert run(provider, deduplicates=True, can_ask=False) == ACCEPTED
    assert provider.made == [None, "ok"]


def test_asking_settles_a_timeout_or_clears_a_resend() -> None:
    has_it = Provider([None], ["has it"])
    assert run(has_it, deduplicates=False, can_ask=True) == ACCEPTED
    assert has_it.made == [None] and has_it.asked == 1
    never = Provider([None], ["never got it"])
    assert run(never, deduplicates=False, can_ask=True) == ACCEPTED
    assert never.made == [None, "ok"]
    cannot = Provider([None], ["cannot"])
    assert isinstance(run(cannot, deduplicates=False, can_ask=True), Unknown)
    assert cannot.made == [None]
