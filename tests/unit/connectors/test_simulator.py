"""The simulated provider behaves like a channel: seeded, lifelike, complete."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from connectors.providers.base import OutboundMessage, PermanentProviderError
from connectors.simulator import SimulatedProvider, persona_for
from connectors.simulator_replies import simulated_intent
from recaudo.contracts.records import Channel
from recaudo.view.contacts import is_opt_out

T0 = datetime(2026, 11, 3, 15, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def message(i: int, channel: Channel = "sms", locale: str = "es") -> OutboundMessage:
    return OutboundMessage(
        dispatch_id=f"d{i}",
        channel=channel,
        address="+573001112233" if channel != "email" else "a@b.co",
        subject=None,
        body="hola",
        locale=locale,
        template="t",
        debtor_id=f"D{i % 50}",
    )


def run(provider: SimulatedProvider, messages: list[OutboundMessage]) -> tuple[int, int]:
    async def send_all() -> tuple[int, int]:
        ok = failed = 0
        for msg in messages:
            try:
                await provider.send(msg)
                ok += 1
            except PermanentProviderError:
                failed += 1
        return ok, failed

    return asyncio.run(send_all())


def test_personas_are_stable_per_debtor_and_seed() -> None:
    assert persona_for("D1", "es", seed=3) == persona_for("D1", "es", seed=3)
    assert persona_for("D1", "es", seed=3) != persona_for("D2", "es", seed=3)
    assert abs(sum(persona_for("D1", "pt").affinity.values()) - 1) < 1e-9
    assert persona_for("D1", "pt-BR").language == "pt"


def test_failure_rates_are_realistic_and_follow_ups_arrive_in_time_order() -> None:
    clock = Clock()
    provider = SimulatedProvider("sms", clock=clock, seed=7, latency_scale=0)
    ok, failed = run(provider, [message(i) for i in range(2000)])
    assert 0.01 < failed / 2000 < 0.06  # 3% expected
    assert provider.due() == []  # nothing happens before time passes
    clock.now = T0 + timedelta(days=2)
    events = provider.due()
    assert events == sorted(events)
    statuses = Counter(e.status for e in events)
    assert statuses["DELIVERED"] == ok
    assert 0 < statuses["READ"] < ok and 0 < statuses["REPLIED"] < statuses["READ"]
    assert provider.pending == 0


def test_replies_speak_the_debtors_language_and_opt_outs_follow_stop() -> None:
    clock = Clock()
    provider = SimulatedProvider("whatsapp", clock=clock, seed=11, latency_scale=0)
    run(provider, [message(i, "whatsapp", "pt") for i in range(3000)])
    clock.now = T0 + timedelta(days=3)
    events = provider.due()
    replies = [e for e in events if e.status == "REPLIED"]
    assert replies and all(simulated_intent(e.text, "pt") for e in replies)
    # Varied: not a fixed phrase per meaning.
    assert len({e.text for e in replies}) > 0.8 * len(replies)
    stops = {e.dispatch_id for e in replies if is_opt_out(e.text)}
    opted = {e.dispatch_id for e in events if e.status == "OPTED_OUT"}
    assert stops == opted
    # Free-text opt-outs are for the pipeline to understand, not the carrier.
    assert any(simulated_intent(e.text) == "opt_out" and not is_opt_out(e.text) for e in replies)


def test_a_debtor_answers_the_dialogue_in_kind() -> None:
    """Asked by the dialogue for a date, a debtor who pays names one."""
    clock = Clock()
    provider = SimulatedProvider("sms", clock=clock, seed=3, latency_scale=0)
    payers = [i for i in range(400) if persona_for(f"D{i}", "es", 3).disposition == "will_pay"]
    asked = [
        OutboundMessage(f"q{i}", "sms", "+57300", None, "?", "es", "ask_promise_date", {}, f"D{i}")
        for i in payers
    ]
    run(provider, asked)
    clock.now = T0 + timedelta(days=2)
    answers = [e for e in provider.due() if e.status == "REPLIED"]
    assert len(answers) > 0.5 * len(payers)  # a thread is answered far more than an outreach
    assert all(simulated_intent(e.text) == "promise_to_pay" for e in answers)


def test_calls_have_call_outcomes() -> None:
    clock = Clock()
    provider = SimulatedProvider("voice", clock=clock, seed=5, latency_scale=0)
    run(provider, [message(i, "voice") for i in range(500)])
    clock.now = T0 + timedelta(hours=1)
    statuses = {e.status for e in provider.due()}
    assert {"CALL_ANSWERED", "CALL_NO_ANSWER", "CALL_VOICEMAIL"} <= statuses
    assert "DELIVERED" not in statuses


def test_same_seed_same_story() -> None:
    def story() -> list[tuple[str, str]]:
        clock = Clock()
        provider = SimulatedProvider("email", clock=clock, seed=2, latency_scale=0)
        run(provider, [message(i, "email") for i in range(200)])
        clock.now = T0 + timedelta(days=1)
        return [(e.dispatch_id, e.status) for e in provider.due()]

    assert story() == story()


def test_a_dispatch_has_the_same_story_on_any_replica_in_any_order() -> None:
    """Replicas split a channel's partitions: what happens to one dispatch must
    not depend on which replica sends it or on what that replica sent before."""

    def stories(order: list[int]) -> dict[str, list[tuple[str, int, datetime]]]:
        clock = Clock()
        provider = SimulatedProvider("sms", clock=clock, seed=4, latency_scale=0)
        run(provider, [message(i) for i in order])
        clock.now = T0 + timedelta(days=2)
        out: dict[str, list[tuple[str, int, datetime]]] = {}
        for e in provider.due():
            out.setdefault(e.dispatch_id, []).append((e.status, e.seq, e.at))
        return out

    whole = stories(list(range(300)))
    # Two replicas, each with half the dispatches, in another order.
    split = {**stories(list(range(299, -1, -2))), **stories(list(range(298, -1, -2)))}
    assert split == whole
    assert len(whole) > 250  # most sends succeed and have follow-ups


def test_a_dispatch_tells_the_same_story_however_fast_the_simulation_runs() -> None:
    def story(latency_scale: float) -> list[tuple[str, str, datetime]]:
        clock = Clock()
        provider = SimulatedProvider("sms", clock=clock, seed=5, latency_scale=latency_scale)

        async def send_all() -> list[str]:
            fates: list[str] = []
            for msg in [message(i) for i in range(40)]:
                try:
                    fates.append((await provider.send(msg)).status)
                except PermanentProviderError as exc:
                    fates.append(exc.code or "")
            return fates

        fates = asyncio.run(send_all())
        clock.now = T0 + timedelta(days=2)
        return [("send", f, T0) for f in fates] + [
            (e.dispatch_id, e.status, e.at) for e in provider.due()
        ]

    assert story(0) == story(0.001)
