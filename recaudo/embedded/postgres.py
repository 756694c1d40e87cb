"""The embedded Postgres: a real PostgreSQL 16 from the ``pgserver`` wheel.

The postmaster runs as a direct child of the process that starts it (not
daemonised by ``pg_ctl``), in a process group of its own and, on Linux, with a
parent-death signal: if that parent is killed outright, Postgres gets SIGINT
(its "fast" shutdown: sessions end, data is flushed) and its helper processes
go with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import time
import warnings
from pathlib import Path
from typing import IO, Any

from recaudo.embedded.supervisor import child_setup
from recaudo.process.lifecycle import Service

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
#: The postgres user initdb creates; the role every URL names.
SUPERUSER = "postgres"
#: Postgres refuses to run as root: when we are root it runs as this system user.
SYSTEM_USER = "pgserver"


class PostgresError(RuntimeError):
    pass


def _pgserver() -> Any:
    try:
        with warnings.catch_warnings():
            # pgserver asks platformdirs for a runtime dir at import; on servers
            # without XDG_RUNTIME_DIR that warning is only noise.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import pgserver._commands as commands
    except ImportError as exc:
        raise PostgresError(
            "pgserver is not installed: `pip install pgserver`, or set DATABASE_URL."
        ) from exc
    return commands


def _postmaster_pid(data_dir: Path) -> int | None:
    """The pid in ``postmaster.pid``, if the file is there."""
    try:
        first = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        return int(first)
    except (OSError, ValueError):
        return None


def _serves(pid: int, data_dir: Path) -> bool:
    """``pid`` is a live postmaster of ``data_dir`` (Postgres runs in its data directory)."""
    try:
        return Path(f"/proc/{pid}/cwd").resolve() == data_dir.resolve()
    except OSError:
        return False


class EmbeddedPostgres(Service):
    """PostgreSQL with its data in ``data_dir`` (kept across runs), reached over a
    Unix socket inside that directory, so it needs no TCP port.

    Call :meth:`start` from a thread that lives as long as the server should
    (the parent-death signal follows the starting thread); :meth:`start` again
    after the server died starts a new one on the same data.
    """

    def __init__(self, data_dir: Path, log_path: Path | None = None) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.log_path = log_path or self.data_dir / "log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._socket_dir: Path | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> EmbeddedPostgres:
        if self.alive():
            return self
        self._close_log()
        commands = _pgserver()
        user = SYSTEM_USER if os.geteuid() == 0 else None
        self._ensure_initialized(commands, user)
        self._stop_leftover()
        self._socket_dir = self._choose_socket_dir(commands)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        argv = [
            str(commands.POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            "",  # no TCP listener: the Unix socket only
            "-k",
            str(self._socket_dir),
        ]
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            user=user,
            # Its own group: a terminal's Ctrl-C reaches our process, which
            # stops Postgres in turn; and SIGINT if we die without doing so.
            process_group=0,
            preexec_fn=child_setup(os.getpid(), signal.SIGINT),
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            # SIGINT: fast shutdown (sessions end, a checkpoint is written).
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # SIGQUIT: immediate shutdown; crash recovery at the next start.
                proc.send_signal(signal.SIGQUIT)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._close_log()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def url(self) -> str:
        if self._socket_dir is None:
            raise PostgresError("embedded Postgres is not started")
        return f"postgresql://{SUPERUSER}:@/{SUPERUSER}?host={self._socket_dir}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.alive() and self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    # --- internals ---------------------------------------------------------------------

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _ensure_initialized(self, commands: Any, user: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            import pwd

            from pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            ensure_user_exists(user)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(commands.POSTGRES_BIN_PATH)
            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(
                commands.POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH
            )
            ensure_folder_permissions(commands.POSTGRES_BIN_PATH.parent / "lib", readable)
            entry = pwd.getpwnam(user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            if self.log_path.exists():
                os.chown(self.log_path, entry.pw_uid, entry.pw_gid)
        if (self.data_dir / "PG_VERSION").exists():
            return
        commands.initdb(
            [
                "--auth=trust",
                "--auth-local=trust",
                "--encoding=utf8",
                "-U",
                SUPERUSER,
            ],
            pgdata=self.data_dir,
            user=user,
        )

    def _stop_leftover(self) -> None:
        """Stop a postmaster an earlier run left on this data directory (it would
        hold the directory's lock and this start would fail)."""
        pid = _postmaster_pid(self.data_dir)
        if pid is None or not _serves(pid, self.data_dir):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _serves(pid, self.data_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _serves(pid, self.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _choose_socket_dir(self, commands: Any) -> Path:
        from pgserver.utils import find_suitable_socket_dir, socket_name_length_ok

        if socket_name_length_ok(self.data_dir / ".s.PGSQL.5432"):
            return self.data_dir
        import platformdirs

        # A data directory too deep for a socket path: pgserver's runtime dir instead.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            runtime = platformdirs.user_runtime_path("python_PostgresServer")
        socket_dir: Path = find_suitable_socket_dir(self.data_dir, runtime)
        if os.geteuid() == 0 and socket_dir != self.data_dir:
            socket_dir.chmod(0o777)
        return socket_dir

    def _wait_ready(self) -> None:
        import psycopg

        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                raise PostgresError(
                    f"Postgres exited with code {self._proc.returncode} while starting; "
                    f"see {self.log_path}"
                )
            try:
                with psycopg.connect(self.url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise PostgresError(
                        f"Postgres did not accept connections within {START_TIMEOUT_S:.0f} s; "
                        f"see {self.log_path}"
                    ) from None
                time.sleep(0.1)
