"""What `recaudo up` supervises: the agent-task sink beside each replica's
stream workers, one inbound email receiver on a port of its own."""

from __future__ import annotations

import pytest

from recaudo.settings import reset_settings_cache
from recaudo.workers import INBOUND_EMAIL, LEARNER, worker_specs


def _port_of(argv: list[str]) -> int:
    return int(argv[argv.index("--port") + 1])


def test_agent_tasks_per_replica_and_one_inbound_email_receiver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECAUDO_INBOUND_EMAIL_PORT", raising=False)
    monkeypatch.setattr("recaudo.workers.free_port", lambda: 40123)
    reset_settings_cache()
    specs = {s.name: s for s in worker_specs(2, dashboard=False)}
    assert {"streams-agent-tasks-0", "streams-agent-tasks-1"} <= specs.keys()
    assert specs["streams-agent-tasks-1"].argv[-4:-2] == ["--name", "agent-tasks"]
    receivers = [s for s in specs.values() if s.name.startswith(INBOUND_EMAIL)]
    assert [s.name for s in receivers] == [INBOUND_EMAIL]
    # Unset: a free port, so two runtimes on one machine do not collide.
    assert _port_of(receivers[0].argv) == 40123
    assert worker_specs(1, dashboard=False, inbound_email=False)[-1].name != INBOUND_EMAIL


def test_the_receiver_listens_where_the_settings_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAUDO_INBOUND_EMAIL_PORT", "2626")
    reset_settings_cache()
    [receiver] = [s for s in worker_specs(1, dashboard=False) if s.name == INBOUND_EMAIL]
    assert _port_of(receiver.argv) == 2626
    reset_settings_cache()


def test_one_learner_service_when_the_learner_is_switched_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECAUDO_LEARNER_ENABLED", raising=False)
    reset_settings_cache()
    assert LEARNER not in {s.name for s in worker_specs(2, dashboard=False)}
    monkeypatch.setenv("RECAUDO_LEARNER_ENABLED", "true")
    reset_settings_cache()
    [learner] = [s for s in worker_specs(2, dashboard=False) if s.name == LEARNER]
    assert learner.argv[-4:-2] == ["--name", "learner"]
    reset_settings_cache()
