"""What `recaudo up` supervises: the agent-task sink beside each replica's
stream workers, one inbound email receiver on a port of its own, one portal
and (with an agent configured) one agent desk."""

from __future__ import annotations

import pytest

from recaudo.embedded.runtime import page_lines
from recaudo.embedded.workers import (
    DESK,
    DESK_NOT_STARTED,
    INBOUND_EMAIL,
    LEARNER,
    PORTAL,
    worker_specs,
)
from recaudo.settings import get_settings, reset_settings_cache


def _port_of(argv: list[str]) -> int:
    return int(argv[argv.index("--port") + 1])


def test_agent_tasks_per_replica_and_one_inbound_email_receiver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECAUDO_INBOUND_EMAIL_PORT", raising=False)
    monkeypatch.setattr("recaudo.embedded.workers.free_port", lambda: 40123)
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


def test_the_portal_and_a_desk_with_an_agent_serve_probes_on_their_page_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECAUDO_PORTAL_PORT", "18060")
    monkeypatch.setenv("RECAUDO_DESK_PORT", "18070")
    monkeypatch.setenv("RECAUDO_DESK_AGENTS", '{"ana": "scrypt$hash"}')
    reset_settings_cache()
    specs = {s.name: s for s in worker_specs(2, dashboard=False, portal=True, desk=True)}
    assert specs[PORTAL].argv[-2:] == ["portal", "run"]
    assert specs[PORTAL].health_port == 18060
    assert specs[DESK].argv[-2:] == ["desk", "run"]
    assert specs[DESK].health_port == 18070
    assert [n for n in specs if n in (PORTAL, DESK)] == [PORTAL, DESK]  # never replicated
    lines = dict(page_lines(get_settings(), specs))
    assert lines == {PORTAL: "http://127.0.0.1:18060/", DESK: "http://127.0.0.1:18070/"}
    reset_settings_cache()


def test_no_desk_without_an_agent_and_status_says_how_to_add_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECAUDO_DESK_AGENTS", raising=False)
    monkeypatch.delenv("RECAUDO_DESK_TRUSTED_HEADER", raising=False)
    reset_settings_cache()
    names = {s.name for s in worker_specs(1, dashboard=False, portal=True, desk=True)}
    assert PORTAL in names and DESK not in names
    desk_line = dict(page_lines(get_settings(), names))[DESK]
    assert desk_line == DESK_NOT_STARTED and "recaudo desk hash-password" in desk_line
    monkeypatch.setenv("RECAUDO_DESK_TRUSTED_HEADER", "X-Forwarded-User")
    reset_settings_cache()
    assert DESK in {s.name for s in worker_specs(1, dashboard=False, portal=True, desk=True)}
    reset_settings_cache()


def test_the_portal_and_desk_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAUDO_DESK_AGENTS", '{"ana": "scrypt$hash"}')
    reset_settings_cache()
    names = {s.name for s in worker_specs(1, dashboard=False)}
    assert PORTAL not in names and DESK not in names
    assert page_lines(get_settings(), names) == []
    reset_settings_cache()
