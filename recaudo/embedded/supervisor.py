"""Child processes of `recaudo up`: started, watched, restarted with backoff,
and stopped with nothing left behind."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

log = logging.getLogger(__name__)

#: A child that stayed up this long is healthy again: its backoff resets.
HEALTHY_AFTER_S = 30.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us if the supervisor dies,
    so even a SIGKILLed supervisor leaves no orphan. Elsewhere the stop path
    (signals and `recaudo down`) is what cleans up."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            pass


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 0.0
    next_start_at: float = 0.0


class Supervisor:
    """Runs each spec as a child process and keeps it running.

    A child that exits is restarted after ``backoff_initial`` seconds, doubling
    up to ``backoff_max`` while it keeps dying young. :meth:`stop` sends SIGTERM
    to every child, waits ``grace_s``, then SIGKILLs whatever remains.
    """

    def __init__(
        self,
        specs: list[ProcessSpec],
        log_dir: Path,
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        grace_s: float = 10.0,
        poll_s: float = 0.2,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"process names must be unique: {names}")
        self.log_dir = log_dir
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.grace_s = grace_s
        self.poll_s = poll_s
        self._children = [_Child(spec) for spec in specs]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> Supervisor:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            for child in self._children:
                self._spawn(child)
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._watcher.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        with self._lock:
            running = [c for c in self._children if c.proc is not None and c.proc.poll() is None]
            for child in running:
                assert child.proc is not None
                child.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + self.grace_s
            for child in running:
                assert child.proc is not None
                try:
                    child.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning(
                        "%s ignored SIGTERM for %.0f s: killing it", child.spec.name, self.grace_s
                    )
                    child.proc.kill()
                    child.proc.wait()
            for child in self._children:
                if child.log is not None:
                    child.log.close()
                    child.log = None

    def __enter__(self) -> Supervisor:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- state -----------------------------------------------------------------------

    def pids(self) -> dict[str, int | None]:
        with self._lock:
            return {
                c.spec.name: (c.proc.pid if c.proc is not None and c.proc.poll() is None else None)
                for c in self._children
            }

    def restarts(self) -> dict[str, int]:
        with self._lock:
            return {c.spec.name: c.restarts for c in self._children}

    # --- internals -------------------------------------------------------------------

    def _spawn(self, child: _Child) -> None:
        if child.log is None:
            child.log = (self.log_dir / f"{child.spec.name}.log").open("ab")
        child.proc = subprocess.Popen(
            child.spec.argv,
            env={**os.environ, **child.spec.env},
            stdin=subprocess.DEVNULL,
            stdout=child.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
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

    def _check(self, child: _Child, now: float) -> None:
        proc = child.proc
        if proc is not None:
            code = proc.poll()
            if code is None:
                if child.backoff_s and now - child.started_at > HEALTHY_AFTER_S:
                    child.backoff_s = 0.0
                return
            lived = now - child.started_at
            child.backoff_s = (
                self.backoff_initial
                if not child.backoff_s
                else min(child.backoff_s * 2, self.backoff_max)
            )
            child.next_start_at = now + child.backoff_s
            child.proc = None
            log.warning(
                "%s exited with code %s after %.1f s; restarting in %.1f s",
                child.spec.name,
                code,
                lived,
                child.backoff_s,
            )
            return
        if now >= child.next_start_at:
            child.restarts += 1
            self._spawn(child)
