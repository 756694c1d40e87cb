"""`recaudo up`, `status` and `down`: the whole pipeline on one machine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import replace
from typing import Any

from pydantic import SecretStr

from recaudo.embedded.broker import EmbeddedBroker
from recaudo.embedded.postgres import EmbeddedPostgres
from recaudo.embedded.state import (
    RuntimeRecord,
    live_record,
    log_dir,
    pid_alive,
    read_record,
    remove_record,
    runtime_file,
    write_record,
)
from recaudo.embedded.supervisor import ProcessSpec, Supervisor
from recaudo.settings import Settings, env_for_children

Progress = Callable[[str], None]


class AlreadyRunning(RuntimeError):
    pass


def _timed(progress: Progress, what: str, action: Callable[[], str]) -> None:
    started = time.monotonic()
    detail = action()
    progress(f"{what}… {detail} ({time.monotonic() - started:.1f} s)")


def run_up(
    settings: Settings,
    workers: list[ProcessSpec] | None,
    progress: Progress = print,
    stop_event: threading.Event | None = None,
) -> int:
    """Start services and workers, then block until SIGINT/SIGTERM (or ``stop_event``)."""
    started = time.monotonic()
    state_dir = settings.state_dir
    running = live_record(state_dir)
    if running is not None and running.supervisor_pid != os.getpid():
        progress(
            f"recaudo is already running (pid {running.supervisor_pid}); `recaudo down` stops it."
        )
        return 1
    stop = stop_event or threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
        if threading.current_thread() is threading.main_thread()
    }
    record = RuntimeRecord(supervisor_pid=os.getpid(), phase="starting", started_at=time.time())
    write_record(state_dir, record)
    try:
        with ExitStack() as stack:
            child_settings, record = _start_services(settings, record, stack, progress)
            write_record(state_dir, record)
            if stop.is_set():
                return 0

            from recaudo.topics_admin import ensure_topics

            def topics() -> str:
                created = ensure_topics(child_settings)
                return f"{len(created)} created" if created else "all present"

            _timed(progress, "creating topics", topics)

            specs = [
                replace(
                    spec,
                    env={
                        **env_for_children(child_settings, RECAUDO_INSTANCE_ID=spec.name),
                        **spec.env,
                    },
                )
                for spec in workers or []
            ]
            supervisor = stack.enter_context(Supervisor(specs, log_dir(state_dir)))
            if specs:
                progress(f"starting workers: {', '.join(s.name for s in specs)}")
            record.children = supervisor.pids()
            record.phase = "ready"
            record.ready_after_s = round(time.monotonic() - started, 2)
            write_record(state_dir, record)
            progress(
                f"recaudo is up in {record.ready_after_s:.1f} s. "
                f"Kafka {record.bootstrap_servers} · logs {log_dir(state_dir)} · Ctrl-C to stop."
            )
            while not stop.wait(1.0):
                pids = supervisor.pids()
                if pids != record.children:
                    record.children = pids
                    write_record(state_dir, record)
            progress("stopping…")
            record.phase = "stopping"
            write_record(state_dir, record)
        progress("stopped.")
        return 0
    finally:
        remove_record(state_dir)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start_services(
    settings: Settings, record: RuntimeRecord, stack: ExitStack, progress: Progress
) -> tuple[Settings, RuntimeRecord]:
    update: dict[str, Any] = {}
    state_dir = settings.state_dir
    if settings.kafka_bootstrap_servers is None:
        broker = EmbeddedBroker(log_path=log_dir(state_dir) / "broker.log")

        def start_broker() -> str:
            stack.enter_context(broker)
            return f"ready on {broker.bootstrap_servers}"

        _timed(progress, "starting broker (Tansu)", start_broker)
        update["kafka_bootstrap_servers"] = broker.bootstrap_servers
        update["embedded_broker"] = True
        record.broker_pid = broker.pid
    else:
        progress(f"using Kafka at {settings.kafka_bootstrap_servers}")
    if settings.database_url is None:
        postgres = EmbeddedPostgres(state_dir / "postgres")

        def start_postgres() -> str:
            stack.enter_context(postgres)
            return f"ready, data in {postgres.data_dir}"

        _timed(progress, "starting Postgres", start_postgres)
        update["database_url"] = SecretStr(postgres.url)
        record.postgres_pid = postgres.pid
    else:
        progress("using the Postgres of DATABASE_URL")
    child = settings.model_copy(update=update)
    from recaudo.db.migrate import migrate

    _timed(
        progress, "migrating the database", lambda: f"{len(migrate(child.database_dsn()))} applied"
    )
    record.bootstrap_servers = child.kafka_bootstrap_servers
    record.embedded_broker = child.embedded_broker
    record.database_url = child.database_dsn()
    return child, record


def run_detached(
    settings: Settings, workers: int = 1, progress: Progress = print, timeout_s: float = 60.0
) -> int:
    """`recaudo up --detach`: start in a new session and return once it is ready."""
    if live_record(settings.state_dir) is not None:
        progress("recaudo is already running; `recaudo status` shows it.")
        return 1
    logs = log_dir(settings.state_dir)
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / "up.log"
    env = {**os.environ, "RECAUDO_STATE_DIR": str(settings.state_dir)}
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "recaudo", "up", "--workers", str(workers)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = read_record(settings.state_dir)
        if record is not None and record.phase == "ready" and record.supervisor_pid == proc.pid:
            progress(f"recaudo is up (pid {proc.pid}); log: {log_path}")
            return 0
        if proc.poll() is not None:
            progress(f"recaudo up exited with code {proc.returncode}; see {log_path}")
            return 1
        time.sleep(0.2)
    progress(f"recaudo up is not ready after {timeout_s:.0f} s; see {log_path}")
    return 1


def _port_open(address: str | None) -> bool:
    if not address:
        return False
    host, _, port = address.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except (OSError, ValueError):
        return False


def run_status(settings: Settings) -> dict[str, Any]:
    record = read_record(settings.state_dir)
    if record is None or not pid_alive(record.supervisor_pid):
        return {"running": False, "state_dir": str(settings.state_dir)}
    return {
        "running": True,
        "phase": record.phase,
        "supervisor_pid": record.supervisor_pid,
        "ready_after_s": record.ready_after_s,
        "uptime_s": round(time.time() - record.started_at, 1),
        "broker": {
            "bootstrap_servers": record.bootstrap_servers,
            "embedded": record.broker_pid is not None,
            "pid": record.broker_pid,
            "reachable": _port_open(record.bootstrap_servers),
        },
        "postgres": {
            "embedded": record.postgres_pid is not None,
            "pid": record.postgres_pid,
            "alive": pid_alive(record.postgres_pid) if record.postgres_pid else None,
        },
        "workers": {
            name: {"pid": pid, "alive": pid_alive(pid)} for name, pid in record.children.items()
        },
        "state_dir": str(settings.state_dir),
    }


def format_status(report: dict[str, Any]) -> str:
    if not report.get("running"):
        return f"recaudo is not running (state dir {report['state_dir']})."
    broker = report["broker"]
    pg = report["postgres"]
    lines = [
        f"recaudo is {report['phase']} (pid {report['supervisor_pid']}, up {report['uptime_s']} s, "
        f"ready after {report['ready_after_s']} s)",
        f"  broker    {broker['bootstrap_servers']}  "
        f"{'embedded, pid ' + str(broker['pid']) if broker['embedded'] else 'external'}  "
        f"{'reachable' if broker['reachable'] else 'NOT REACHABLE'}",
        f"  postgres  {'embedded, pid ' + str(pg['pid']) if pg['embedded'] else 'external'}",
    ]
    for name, worker in report["workers"].items():
        lines.append(
            f"  {name:<24} pid {worker['pid']}  {'running' if worker['alive'] else 'DOWN'}"
        )
    return "\n".join(lines)


def _terminate(pid: int | None, sig: int, timeout_s: float) -> None:
    if not pid_alive(pid):
        return
    assert pid is not None
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def run_down(settings: Settings, timeout_s: float = 20.0) -> bool:
    """Stop a running `recaudo up`; returns whether one was running."""
    record = read_record(settings.state_dir)
    if record is None:
        return False
    was_running = pid_alive(record.supervisor_pid)
    _terminate(record.supervisor_pid, signal.SIGTERM, timeout_s)
    # Normally the supervisor stopped all of these; after a SIGKILL it could not.
    for pid in record.children.values():
        _terminate(pid, signal.SIGTERM, 5)
    _terminate(record.broker_pid, signal.SIGTERM, 5)
    _terminate(record.postgres_pid, signal.SIGINT, 10)  # Postgres' "fast" shutdown
    if runtime_file(settings.state_dir).exists():
        remove_record(settings.state_dir)
    return was_running
