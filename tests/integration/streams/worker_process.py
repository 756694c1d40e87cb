"""Stream workers for a test: `recaudo streams run` as a child process it can
kill and restart, and the view publisher in a thread of the test's process
(the view processor needs the main thread for its signal handlers)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from recaudo.settings import Settings
from streams.view_publisher import ViewPublisher


class Worker:
    def __init__(self, env: dict[str, str], name: str = "view") -> None:
        self._env = env
        self._name = name
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "recaudo", "streams", "run", "--name", self._name],
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
def streams_worker(env: dict[str, str], name: str = "view") -> Iterator[Worker]:
    """``recaudo streams run --name NAME`` in a child process, stopped on exit."""
    worker = Worker(env, name)
    try:
        yield worker
    finally:
        worker.stop()


@contextmanager
def view_publisher(settings: Settings) -> Iterator[ViewPublisher]:
    """The view publisher running in a thread until the block ends."""
    publisher = ViewPublisher(settings, interval_s=0.5)
    thread = threading.Thread(target=publisher.run, name="view-publisher")
    thread.start()
    try:
        yield publisher
    finally:
        publisher.stop()
        thread.join(60)
        assert not thread.is_alive(), "the view publisher did not stop"
