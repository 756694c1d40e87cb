"""`recaudo up`, `status` and `down`: the whole pipeline on one machine.

``run_up`` starts what the environment does not provide (the Tansu broker
without ``KAFKA_BOOTSTRAP_SERVERS``, Postgres without ``DATABASE_URL``), creates
the topics, runs the workers under a :class:`Supervisor`, records all of it in
``runtime.json``, and on SIGINT/SIGTERM stops everything in reverse order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, LiteralString

from pydantic import SecretStr

from recaudo.embedded.broker import EmbeddedBroker
from recaudo.embedded.postgres import EmbeddedPostgres
from recaudo.embedded.state import (
    RuntimeRecord,
    live_record,
    log_dir,
    pid_alive,
    postgres_dir,
    read_record,
    release_lock,
    remove_record,
    try_lock,
    write_record,
)
from recaudo.embedded.supervisor import ProcessSpec, Supervisor
from recaudo.embedded.workers import DASHBOARD, DESK, DESK_NOT_STARTED, PORTAL
from recaudo.settings import Settings, env_for_children

if TYPE_CHECKING:
    from recaudo.embedded.journal import JournalRecorder

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
#: Work to run once everything is up (`recaudo demo`): given the settings that
#: reach the services and the stop event, it returns an exit code; when it
#: returns, everything stops.
Job = Callable[[Settings, threading.Event], int]

#: How long the services get to stop before `down` kills what is left.
SERVICE_STOP_TIMEOUT_S = 10.0


class StartupError(RuntimeError):
    """A step of `recaudo up` failed; the message says which and why."""


def _already_running(pid: int | None) -> str:
    who = f"pid {pid}" if pid else "another process"
    return f"recaudo is already running ({who}); `recaudo down` stops it."


def _step(progress: Progress, what: str, action: Callable[[], str]) -> None:
    """Run one start-up step, printing ``what… detail (time)``."""
    started = time.monotonic()
    try:
        detail = action()
    except Exception as exc:
        log.debug("%s failed", what, exc_info=True)
        progress(f"{what}… failed")
        raise StartupError(f"{what} failed: {exc}") from exc
    progress(f"{what}… {detail} ({time.monotonic() - started:.1f} s)")


# --- up --------------------------------------------------------------------------------


def run_up(
    settings: Settings,
    workers: list[ProcessSpec] | None,
    progress: Progress = print,
    stop_event: threading.Event | None = None,
    job: Job | None = None,
    *,
    journal: bool = True,
) -> int:
    """Start services and workers, then block until SIGINT/SIGTERM (or ``stop_event``,
    or until ``job`` returns).

    With the embedded broker, ``journal`` keeps what is published for the next
    run (see :mod:`recaudo.embedded.journal`); a run whose state directory is
    thrown away afterwards (the demo's) has no use for it.

    Returns the process exit code: 0 after a requested stop, 1 when it could not
    start (already running, a step failed) or an embedded service died; with a
    job, the job's code.
    """
    state_dir = settings.state_dir
    lock = try_lock(state_dir)
    if lock is None:
        record = read_record(state_dir)
        progress(_already_running(record.supervisor_pid if record else None))
        return 1
    stop = stop_event or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    try:
        # Another `up` without the lock (a state dir on a filesystem that ignores
        # flock) still leaves a live record behind.
        running = live_record(state_dir)
        if running is not None and running.supervisor_pid != os.getpid():
            progress(_already_running(running.supervisor_pid))
            return 1
        stale = read_record(state_dir)
        if stale is not None:
            _clean_up_after(stale, progress)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: stop.set())
        return _up(settings, workers or [], progress, stop, job, journal)
    finally:
        mine = read_record(state_dir)
        if mine is not None and mine.supervisor_pid == os.getpid():
            remove_record(state_dir)
        release_lock(lock)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _up(
    settings: Settings,
    workers: list[ProcessSpec],
    progress: Progress,
    stop: threading.Event,
    job: Job | None = None,
    journal: bool = True,
) -> int:
    started = time.monotonic()
    state_dir = settings.state_dir
    logs = log_dir(state_dir)
    record = RuntimeRecord(supervisor_pid=os.getpid(), phase="starting", started_at=time.time())
    write_record(state_dir, record)
    code = 0
    with ExitStack() as stack:
        try:
            services = _Services()
            child_settings = _start_services(settings, record, stack, progress, services)
            write_record(state_dir, record)
            if stop.is_set():
                progress("interrupted while starting; stopping…")
                return 0

            def topics() -> str:
                from recaudo.kafka.topics_admin import ensure_topics

                created = ensure_topics(child_settings)
                return f"{len(created)} created" if created else "all present"

            _step(progress, "creating topics", topics)
            if services.broker is not None:
                recorder = _restore_inputs(settings, child_settings, stack, progress, journal)
                services.recorder = recorder
            if stop.is_set():
                progress("interrupted while starting; stopping…")
                return 0

            if workers and child_settings.conversations:
                _step(progress, "preparing the understanding model", _understanding_model)
            specs = [
                replace(
                    spec,
                    env={
                        **env_for_children(child_settings, RECAUDO_INSTANCE_ID=spec.name),
                        **spec.env,
                    },
                )
                for spec in workers
            ]
            if specs:
                progress(f"starting workers: {', '.join(s.name for s in specs)}")
            try:
                supervisor = stack.enter_context(Supervisor(specs, logs))
            except Exception as exc:
                raise StartupError(f"starting workers failed: {exc}") from exc
        except StartupError as exc:
            if stop.is_set():
                # Ctrl-C also reaches the broker, which then fails the step it was in.
                progress("interrupted while starting; stopping…")
                return 0
            progress(f"recaudo up: {exc}")
            progress(
                f"Logs are in {logs}; RECAUDO_LOG_LEVEL=DEBUG shows the traceback. "
                "Stopping what was started."
            )
            return 1

        record.children = supervisor.pids()
        record.health_ports = {s.name: s.health_port for s in specs if s.health_port}
        record.phase = "ready"
        record.ready_after_s = round(time.monotonic() - started, 2)
        write_record(state_dir, record)
        progress(
            f"recaudo is up in {record.ready_after_s:.1f} s. "
            f"Kafka {record.bootstrap_servers} · logs {logs} · Ctrl-C to stop."
        )
        for name, where in page_lines(settings, {spec.name for spec in specs}):
            progress(f"{name}: {where}")
        keeper = _PostgresKeeper(services.postgres, progress) if services.postgres else None
        recorder_failed = False
        job_thread = _JobThread(job, child_settings, stop, progress) if job else None
        if job_thread is not None:
            job_thread.start()
        while not stop.wait(1.0):
            if services.broker is not None and not pid_alive(services.broker.pid):
                # The topics were in its memory: workers would only retry against
                # a broker that is gone, and `status` would report a runtime
                # that cannot work. Stop instead.
                progress(
                    f"the embedded broker exited unexpectedly (see {logs}); stopping everything."
                )
                code = 1
                break
            if services.recorder is not None and services.recorder.failure and not recorder_failed:
                recorder_failed = True
                progress(
                    f"{services.recorder.failure}: what is published from now on will not "
                    "come back after `recaudo down`; restart recaudo to record again."
                )
            changed = False
            if keeper is not None and keeper.check():
                assert services.postgres is not None
                record.postgres_pid = services.postgres.pid
                changed = True
            pids = supervisor.pids()
            if pids != record.children:
                record.children = pids
                changed = True
            if changed:
                write_record(state_dir, record)
        stop.set()
        if job_thread is not None:
            job_thread.join()
            code = code or job_thread.code
        stopping = time.monotonic()
        progress("stopping…")
        record.phase = "stopping"
        write_record(state_dir, record)
    progress(f"stopped ({time.monotonic() - stopping:.1f} s).")
    return code


class _JobThread(threading.Thread):
    def __init__(
        self, job: Job, settings: Settings, stop: threading.Event, progress: Progress
    ) -> None:
        super().__init__(name="recaudo-job", daemon=True)
        self.job, self.settings, self.stop, self.progress = job, settings, stop, progress
        self.code = 1

    def run(self) -> None:
        try:
            self.code = self.job(self.settings, self.stop)
        except Exception as exc:
            log.debug("job failed", exc_info=True)
            self.progress(f"failed: {type(exc).__name__}: {exc}")
        finally:
            self.stop.set()


class _Services:
    """The embedded services `recaudo up` started (None: the environment's own)."""

    def __init__(self) -> None:
        self.broker: EmbeddedBroker | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.recorder: JournalRecorder | None = None


def _understanding_model() -> str:
    """Built (or loaded) into the model cache once, here, so the workers that
    read debtors' messages load it instead of each training it at start."""
    from recaudo.understanding.understand import warm_up

    warm_up()
    return "ready"


def _start_services(
    settings: Settings,
    record: RuntimeRecord,
    stack: ExitStack,
    progress: Progress,
    services: _Services,
) -> Settings:
    """Start what the environment does not provide; the settings to hand to children."""
    update: dict[str, Any] = {}
    state_dir = settings.state_dir
    if settings.kafka_bootstrap_servers is None:
        broker = EmbeddedBroker(log_path=log_dir(state_dir) / "broker.log")

        def start_broker() -> str:
            stack.enter_context(broker)
            return f"ready on {broker.bootstrap_servers}"

        _step(progress, "starting broker (Tansu)", start_broker)
        update["kafka_bootstrap_servers"] = broker.bootstrap_servers
        update["embedded_broker"] = True
        record.broker_pid = broker.pid
        services.broker = broker
    else:
        progress(f"using Kafka at {settings.kafka_bootstrap_servers}")
    if settings.database_url is None:
        postgres = EmbeddedPostgres(
            postgres_dir(state_dir), log_path=log_dir(state_dir) / "postgres.log"
        )

        def start_postgres() -> str:
            stack.enter_context(postgres)
            return f"ready, data in {postgres.data_dir}"

        _step(progress, "starting Postgres", start_postgres)
        update["database_url"] = SecretStr(postgres.url)
        record.postgres_pid = postgres.pid
        services.postgres = postgres
    else:
        progress("using the Postgres of DATABASE_URL")
    child = settings.model_copy(update=update)

    def migrate() -> str:
        from recaudo.db.migrate import migrate

        return f"{len(migrate(child.database_dsn()))} applied"

    _step(progress, "migrating the database", migrate)
    record.bootstrap_servers = child.kafka_bootstrap_servers
    record.embedded_broker = child.embedded_broker
    record.database_url = child.database_dsn()
    return child


def _restore_inputs(
    settings: Settings, child: Settings, stack: ExitStack, progress: Progress, record: bool
) -> JournalRecorder | None:
    """With the embedded broker, which starts empty: clear what was derived from
    the previous run's topics, replay the journal into the broker, and (with
    ``record``) keep what is published from now on (see
    :mod:`recaudo.embedded.journal`)."""
    from recaudo.embedded import journal

    state_dir = settings.state_dir
    kept = journal.kept(state_dir)
    _step(progress, "clearing derived state", lambda: reset_derived(child, state_dir, kept))
    if not record:
        return None
    done: list[journal.Replayed] = []

    def replay() -> str:
        done.append(journal.replay(child, state_dir))
        counts = done[0].counts
        if not any(counts.values()):
            return "nothing kept"
        per_topic = ", ".join(f"{key} {n:,}" for key, n in counts.items() if n)
        return f"{sum(counts.values()):,} published record(s) back ({per_topic})"

    _step(progress, "replaying the journal", replay)
    recorder = journal.JournalRecorder(child, state_dir, done[0])

    def start_recording() -> str:
        recorder.start_recording()
        stack.callback(recorder.stop)
        return f"inputs kept in {journal.journal_dir(state_dir)}"

    _step(progress, "recording inputs", start_recording)
    return recorder


def reset_derived(child: Settings, state_dir: Path, kept: bool) -> str:
    """Empty the stream processors' local state and the Postgres tables built
    from the topics; a line saying what was dropped and why."""
    import psycopg

    from recaudo.db.view_store import truncate

    streams = state_dir / "streams"
    had_streams = streams.exists()
    shutil.rmtree(streams, ignore_errors=True)
    with psycopg.connect(child.database_dsn(), autocommit=True) as conn:
        debtors = _count(conn, "SELECT count(*) FROM debtor_view")
        kpis = _count(conn, "SELECT count(*) FROM kpi")
        truncate(conn)
        with conn.transaction():
            conn.execute("TRUNCATE kpi")
    if not (had_streams or debtors or kpis):
        return "none"
    dropped = f"{debtors:,} debtor view(s), {kpis:,} KPI row(s) and the stream state dropped"
    if kept:
        return f"{dropped}; rebuilt from the journal"
    return (
        f"{dropped}: the broker starts empty and no inputs of the previous run were kept; "
        "publish them again to rebuild them"
    )


def _count(conn: Any, query: LiteralString) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


class _PostgresKeeper:
    """Restarts the embedded Postgres when it dies, with backoff; workers reconnect."""

    BACKOFF_INITIAL_S = 0.5
    BACKOFF_MAX_S = 30.0

    def __init__(self, postgres: EmbeddedPostgres, progress: Progress) -> None:
        self.postgres = postgres
        self.progress = progress
        self.restarts = 0
        self._backoff_s = 0.0
        self._next_at = 0.0

    def check(self) -> bool:
        """Restart Postgres if it is due; whether it was restarted (a new pid)."""
        if self.postgres.alive():
            return False
        now = time.monotonic()
        if self._next_at == 0.0:
            self._backoff_s = self.BACKOFF_INITIAL_S
            self._next_at = now + self._backoff_s
            self.progress(
                f"the embedded Postgres exited (code {self.postgres.returncode}); "
                f"restarting it in {self._backoff_s:.1f} s"
            )
            return False
        if now < self._next_at:
            return False
        try:
            self.postgres.start()
        except Exception as exc:
            self._backoff_s = min(self._backoff_s * 2, self.BACKOFF_MAX_S)
            self._next_at = now + self._backoff_s
            self.progress(
                f"restarting the embedded Postgres failed: {exc}; "
                f"trying again in {self._backoff_s:.1f} s"
            )
            return False
        self.restarts += 1
        self._next_at = 0.0
        self.progress(f"the embedded Postgres is back (pid {self.postgres.pid})")
        return True


def _local_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{port}/"


def dashboard_url(settings: Settings) -> str:
    """Where `recaudo up`'s dashboard answers (on this machine)."""
    return _local_url(settings.dashboard_host, settings.dashboard_port)


def portal_url(settings: Settings) -> str:
    """Where `recaudo up`'s portal answers (a link's page is under /p/)."""
    return _local_url(settings.portal_host, settings.portal_port)


def desk_url(settings: Settings) -> str:
    """Where `recaudo up`'s agent desk answers."""
    return _local_url(settings.desk_host, settings.desk_port)


def page_lines(settings: Settings, workers: Collection[str]) -> list[tuple[str, str]]:
    """(page, where) for each page among ``workers`` that a person opens; with
    the portal but no desk, why the desk was not started and how to start it."""
    lines: list[tuple[str, str]] = []
    if DASHBOARD in workers:
        lines.append((DASHBOARD, dashboard_url(settings)))
    if PORTAL in workers:
        lines.append((PORTAL, portal_url(settings)))
    if DESK in workers:
        lines.append((DESK, desk_url(settings)))
    elif PORTAL in workers:
        lines.append((DESK, DESK_NOT_STARTED))
    return lines


# --- up --detach -----------------------------------------------------------------------


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


#: The start-up steps that say what was dropped and what came back.
RESTORE_STEPS = ("clearing derived state…", "replaying the journal…")


def _restore_lines(log_path: Path, offset: int) -> list[str]:
    try:
        with log_path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return []
    lines = [line for line in text.splitlines() if line.startswith(RESTORE_STEPS)]
    # A first run has nothing to say here.
    return [line for line in lines if not re.search(r"… (none|nothing kept) \(", line)]


def run_detached(
    settings: Settings, workers: int = 1, progress: Progress = print, timeout_s: float = 60.0
) -> int:
    """`recaudo up --detach`: start `recaudo up` in a new session, return once it is ready."""
    running = live_record(settings.state_dir)
    if running is not None:
        progress(_already_running(running.supervisor_pid))
        return 1
    logs = log_dir(settings.state_dir)
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / "up.log"
    env = {**os.environ, "RECAUDO_STATE_DIR": str(settings.state_dir)}
    with log_path.open("ab") as out:
        this_run = out.tell()
        # A new session: no terminal, so closing it or pressing Ctrl-C there
        # does not reach the background runtime.
        proc = subprocess.Popen(
            [sys.executable, "-m", "recaudo", "up", "--workers", str(workers)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            record = read_record(settings.state_dir)
            if record is not None and record.phase == "ready" and record.supervisor_pid == proc.pid:
                for line in _restore_lines(log_path, this_run):
                    progress(line)
                progress(
                    f"recaudo is up in {record.ready_after_s} s (pid {proc.pid}). "
                    f"Kafka {record.bootstrap_servers}; "
                    + "".join(f"{n} {w}; " for n, w in page_lines(settings, record.children))
                    + f"log: {log_path}; `recaudo down` stops it."
                )
                return 0
            if proc.poll() is not None:
                progress(f"recaudo up exited with code {proc.returncode}; end of {log_path}:")
                progress(_tail(log_path))
                return 1
            time.sleep(0.2)
    except KeyboardInterrupt:
        progress(f"still starting in the background (pid {proc.pid}); `recaudo down` stops it.")
        return 130
    progress(
        f"recaudo up is not ready after {timeout_s:.0f} s and is still starting "
        f"(pid {proc.pid}); see {log_path}, or `recaudo down` to stop it."
    )
    return 1


# --- status ----------------------------------------------------------------------------


def _port_open(address: str | None) -> bool:
    if not address:
        return False
    host, _, port = address.split(",")[0].strip().rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except (OSError, ValueError):
        return False


def _leftovers(record: RuntimeRecord) -> dict[str, int]:
    """Recorded processes other than the supervisor that are still running."""
    pids = record.pids().items()
    return {name: pid for name, pid in pids if name != "supervisor" and record.owns(pid)}


def run_status(settings: Settings) -> dict[str, Any]:
    """What `recaudo up` is running, each process checked; ``running`` False if nothing."""
    state_dir = settings.state_dir
    record = read_record(state_dir)
    if record is None:
        return {"running": False, "state_dir": str(state_dir)}
    if not record.owns(record.supervisor_pid):
        # `up` died without cleaning up (SIGKILL, power loss): anything it left?
        return {
            "running": False,
            "state_dir": str(state_dir),
            "stale": True,
            "leftovers": _leftovers(record),
        }
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
            "alive": record.owns(record.broker_pid) if record.broker_pid else None,
            "reachable": _port_open(record.bootstrap_servers),
        },
        "postgres": {
            "embedded": record.postgres_pid is not None,
            "pid": record.postgres_pid,
            "alive": record.owns(record.postgres_pid) if record.postgres_pid else None,
        },
        "workers": {
            name: {
                "pid": pid,
                "alive": record.owns(pid),
                "health": (
                    f"http://127.0.0.1:{record.health_ports[name]}/"
                    if name in record.health_ports
                    else None
                ),
            }
            for name, pid in record.children.items()
        },
        "state_dir": str(state_dir),
    }


def format_status(report: dict[str, Any]) -> str:
    if not report.get("running"):
        line = f"recaudo is not running (state dir {report['state_dir']})."
        leftovers = report.get("leftovers")
        if leftovers:
            names = ", ".join(f"{n} (pid {p})" for n, p in leftovers.items())
            line += f"\nA previous run did not stop cleanly; still alive: {names}."
            line += "\n`recaudo down` stops them."
        return line
    broker = report["broker"]
    pg = report["postgres"]
    lines = [
        f"recaudo is {report['phase']} (pid {report['supervisor_pid']}, up {report['uptime_s']} s, "
        f"ready after {report['ready_after_s']} s)",
        f"  broker    {broker['bootstrap_servers']}  "
        f"{'embedded, pid ' + str(broker['pid']) if broker['embedded'] else 'external'}  "
        f"{'reachable' if broker['reachable'] else 'NOT REACHABLE'}",
        f"  postgres  "
        f"{'embedded, pid ' + str(pg['pid']) if pg['embedded'] else 'external'}"
        f"{'  DOWN' if pg['alive'] is False else ''}",
    ]
    for name, worker in report["workers"].items():
        state = "running" if worker["alive"] else "DOWN (restarting)"
        health = f"  {worker['health']}healthz" if worker.get("health") else ""
        lines.append(f"  {name:<24} pid {worker['pid']}  {state}{health}")
    return "\n".join(lines)


# --- down ------------------------------------------------------------------------------


def _terminate(
    record: RuntimeRecord, pid: int | None, sig: int, timeout_s: float, *, group: bool = False
) -> None:
    """Signal ``pid`` (with ``group``, the process group it leads), wait, then SIGKILL."""
    if not record.owns(pid):
        return
    assert pid is not None

    def send(s: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group and os.getpgid(pid) == pid and pid != os.getpgrp():
                os.killpg(pid, s)
            else:
                os.kill(pid, s)

    send(sig)
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if record.owns(pid):
        log.warning("pid %d did not stop within %.0f s: killing it", pid, timeout_s)
        send(signal.SIGKILL)
        kill_deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < kill_deadline:
            time.sleep(0.05)


def _clean_up_after(record: RuntimeRecord, progress: Progress | None = None) -> None:
    """Stop what a dead `recaudo up` left running (its children, broker, Postgres)."""
    leftovers = _leftovers(record)
    if leftovers and progress is not None:
        names = ", ".join(f"{n} (pid {p})" for n, p in leftovers.items())
        progress(f"a previous run did not stop cleanly; stopping what it left: {names}")
    for pid in record.children.values():
        # Workers lead their own process group: take whatever they spawned too.
        _terminate(record, pid, signal.SIGTERM, 5, group=True)
    _terminate(record, record.broker_pid, signal.SIGTERM, 5)
    # SIGINT is Postgres' "fast" shutdown: sessions end, data is flushed.
    _terminate(record, record.postgres_pid, signal.SIGINT, SERVICE_STOP_TIMEOUT_S)


def run_down(settings: Settings, timeout_s: float = 20.0) -> bool:
    """Stop a running `recaudo up` and anything it left; returns whether something was running."""
    state_dir = settings.state_dir
    record = read_record(state_dir)
    if record is None:
        return False
    something = any(record.owns(pid) for pid in record.pids().values())
    # The supervisor stops its workers, then Postgres, then the broker, in order;
    # not its process group, which would hit the broker first.
    _terminate(record, record.supervisor_pid, signal.SIGTERM, timeout_s)
    # After a SIGKILL (or a supervisor killed just now) nothing did that for it.
    _clean_up_after(record)
    current = read_record(state_dir)
    if current is not None and current.supervisor_pid == record.supervisor_pid:
        remove_record(state_dir)
    return something
