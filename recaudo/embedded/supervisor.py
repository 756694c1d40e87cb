"""Child processes of `recaudo up`: started, watched, restarted with backoff,
and stopped with nothing left behind.

How nothing is left behind:

* each child leads its own process group, so a Ctrl-C in the terminal reaches
  only the supervisor, which then stops the children in order; and stopping a
  child signals its whole group, so whatever it spawned goes with it;
* on Linux each child also asks the kernel (``PR_SET_PDEATHSIG``) for a SIGTERM
  when its parent goes away, so even a SIGKILLed supervisor leaves no orphan.
  macOS has no equivalent: there a hard-killed supervisor's children are found
  and stopped by `recaudo down`, from the pids in ``runtime.json``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from recaudo.embedded.state import WorkerExits, write_worker_exits
from recaudo.process.lifecycle import Service

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
#: How much of a child's output, at most, is searched for its last error line.
ERROR_TAIL_BYTES = 64 * 1024
#: An error-level log line ("... ERROR name: ..."), or an exception's line
#: ("ValueError: ...", "psycopg.OperationalError: ...").
_ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|FATAL|PANIC)\b|^[A-Za-z_][\w.]*(Error|Exception):")
_TRACEBACK = "Traceback (most recent call last):"


class SupervisorError(RuntimeError):
    pass


def _load_prctl() -> Callable[..., int] | None:
    # Resolved once in the parent: loading a library between fork and exec can
    # deadlock on the loader's lock when the parent has threads.
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()


def child_setup(
    parent_pid: int, death_signal: signal.Signals = signal.SIGTERM
) -> Callable[[], None]:
    """What a child runs before exec (``preexec_fn``): ``death_signal`` when its parent dies."""
    signum = int(death_signal)

    def setup() -> None:
        if _PRCTL is None:
            return
        _PRCTL(PR_SET_PDEATHSIG, signum)
        # The parent may have died between fork and prctl: then no signal will
        # ever come, so leave now rather than run as an orphan.
        if os.getppid() != parent_pid:
            os._exit(1)

    return setup


def last_error_line(output: str) -> str | None:
    """The last error-level line of a child's output, or the exception line
    that ends a Python traceback (``module.Name: message``), if any; at most
    500 characters."""
    found: str | None = None
    in_traceback = False
    for line in output.splitlines():
        if line.startswith(_TRACEBACK):
            in_traceback = True
        elif in_traceback:
            # The frames are indented; the first line that is not names the exception.
            if line.strip() and not line[0].isspace():
                in_traceback = False
                found = line
        elif _ERROR_LINE.search(line):
            found = line
    return found.strip()[:500] if found is not None else None


@dataclass(frozen=True)
class ProcessSpec:
    """One supervised process: ``argv`` run with ``env`` on top of our environment."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    #: Where it serves /healthz, /readyz and /metrics on 127.0.0.1, if it does.
    health_port: int | None = None


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 0.0
    next_start_at: float = 0.0
    #: Where the current run's output starts in its log.
    output_from: int = 0
    exits: WorkerExits = field(default_factory=WorkerExits)


class Supervisor(Service):
    """Runs each spec as a child process and keeps it running.

    A child that exits is restarted after ``backoff_initial`` seconds, doubling
    up to ``backoff_max`` while it keeps dying young; once it has stayed up for
    ``healthy_after_s`` its backoff starts over. Output goes to
    ``log_dir/<name>.log``, with a line from the supervisor at each restart;
    each child's restarts, last exit code and last error line go to
    ``exits_file`` (default ``log_dir/workers.json``), replaced at each exit.
    :meth:`stop` sends SIGTERM to every child's process group, waits
    ``grace_s``, then SIGKILLs whatever remains.

    PR_SET_PDEATHSIG follows the *thread* that started a child: call
    :meth:`start` from a thread that lives as long as the supervisor (the main
    thread, normally). Restarts are spawned by the supervisor's own thread.
    """

    def __init__(
        self,
        specs: list[ProcessSpec],
        log_dir: Path,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        *,
        healthy_after_s: float = 30.0,
        grace_s: float = 10.0,
        poll_s: float = 0.2,
        exits_file: Path | None = None,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"process names must be unique: {names}")
        if bad := [n for n in names if not n or "/" in n or n.startswith(".")]:
            raise ValueError(f"process names become log file names; not usable: {bad}")
        self.log_dir = log_dir
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.healthy_after_s = healthy_after_s
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.exits_file = exits_file or log_dir / "workers.json"
        self._children = [_Child(spec) for spec in specs]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> Supervisor:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._write_exits()
            for child in self._children:
                try:
                    self._spawn(child)
                except OSError as exc:
                    # A command that cannot start now will not start later either:
                    # say so at once, and leave nothing running.
                    self._stop_locked()
                    raise SupervisorError(
                        f"cannot start {child.spec.name} ({child.spec.argv[0]}): {exc}"
                    ) from exc
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._watcher.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        with self._lock:
            self._stop_locked()

    # --- state -----------------------------------------------------------------------

    def pids(self) -> dict[str, int | None]:
        """Each child's pid, None while it waits to be restarted."""
        with self._lock:
            return {
                c.spec.name: (c.proc.pid if c.proc is not None and c.proc.poll() is None else None)
                for c in self._children
            }

    def restarts(self) -> dict[str, int]:
        with self._lock:
            return {c.spec.name: c.restarts for c in self._children}

    def exits(self) -> dict[str, WorkerExits]:
        """Each child's exits so far (copies)."""
        with self._lock:
            return {
                c.spec.name: replace(c.exits, recent_exits=list(c.exits.recent_exits))
                for c in self._children
            }

    # --- internals -------------------------------------------------------------------

    def _stop_locked(self) -> None:
        self._stopping.set()
        running = [c for c in self._children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            self._signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for child in running:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s ignored SIGTERM for %.0f s: killing it", child.spec.name, self.grace_s
                )
                self._signal_group(child, signal.SIGKILL)
                child.proc.wait()
        for child in running:
            # Whatever the child spawned and left behind still holds its group id
            # (the kernel does not reuse it while the group has members).
            assert child.proc is not None
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.proc.pid, signal.SIGKILL)
        for child in self._children:
            if child.log is not None:
                child.log.close()
                child.log = None

    @staticmethod
    def _signal_group(child: _Child, sig: signal.Signals) -> None:
        assert child.proc is not None
        try:
            os.killpg(child.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            # A child that left its group (setsid) is still signalled itself.
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(sig)

    def _note(self, child: _Child, message: str) -> None:
        """A line in the child's own log, where its user looks first."""
        if child.log is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            child.log.write(f"--- {stamp} recaudo supervisor: {message}\n".encode())
            child.log.flush()

    def _log_path(self, child: _Child) -> Path:
        return self.log_dir / f"{child.spec.name}.log"

    def _write_exits(self) -> None:
        exits = {c.spec.name: c.exits for c in self._children}
        try:
            write_worker_exits(self.exits_file, os.getpid(), exits)
        except OSError as exc:  # a full disk must not stop the supervision
            log.warning("cannot record worker exits in %s: %s", self.exits_file, exc)

    def _last_error(self, child: _Child) -> str | None:
        """The last error line the child's current run wrote to its log."""
        try:
            with self._log_path(child).open("rb") as out:
                end = out.seek(0, os.SEEK_END)
                out.seek(max(child.output_from, end - ERROR_TAIL_BYTES))
                return last_error_line(out.read().decode("utf-8", errors="replace"))
        except OSError:
            return None

    def _spawn(self, child: _Child) -> None:
        if child.log is None:
            child.log = self._log_path(child).open("ab")
        child.output_from = child.log.seek(0, os.SEEK_END)
        child.proc = subprocess.Popen(
            child.spec.argv,
            env={**os.environ, **child.spec.env},
            stdin=subprocess.DEVNULL,
            stdout=child.log,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=child_setup(os.getpid()),
        )
        child.started_at = time.monotonic()
        log.info("started %s (pid %d)", child.spec.name, child.proc.pid)

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_s):
            now = time.monotonic()
            with self._lock:
                if self._stopping.is_set():
                    return
                for child in self._children:
                    self._check(child, now)

    def _schedule_restart(self, child: _Child, now: float) -> None:
        child.backoff_s = (
            self.backoff_initial
            if not child.backoff_s
            else min(child.backoff_s * 2, self.backoff_max)
        )
        child.next_start_at = now + child.backoff_s

    def _check(self, child: _Child, now: float) -> None:
        proc = child.proc
        if proc is not None:
            code = proc.poll()
            if code is None:
                if child.backoff_s and now - child.started_at >= self.healthy_after_s:
                    child.backoff_s = 0.0
                return
            lived = now - child.started_at
            if child.backoff_s and lived >= self.healthy_after_s:
                child.backoff_s = 0.0  # it was healthy; this is a fresh failure
            self._schedule_restart(child, now)
            child.proc = None
            child.exits.exited(code, time.time(), self._last_error(child))
            self._write_exits()
            message = (
                f"{child.spec.name} exited with code {code} after {lived:.1f} s; "
                f"restarting in {child.backoff_s:.1f} s"
            )
            log.warning("%s", message)
            self._note(child, message)
            return
        if now < child.next_start_at:
            return
        child.restarts += 1
        child.exits.restarts = child.restarts
        self._write_exits()
        try:
            self._spawn(child)
        except OSError as exc:
            # Keep watching the others; try this one again later.
            self._schedule_restart(child, now)
            message = (
                f"cannot restart {child.spec.name}: {exc}; trying again in {child.backoff_s:.1f} s"
            )
            log.error("%s", message)
            self._note(child, message)
