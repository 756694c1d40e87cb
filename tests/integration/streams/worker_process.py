"""A `recaudo streams run` worker as a child process a test can kill and restart."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "recaudo", "streams", "run"],
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill_and_restart(self) -> None:
        """SIGKILL (no shutdown, no last checkpoint), then a fresh process."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = self._start()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def streams_worker(env: dict[str, str]) -> Iterator[Worker]:
    worker = Worker(env)
    try:
        yield worker
    finally:
        worker.stop()
