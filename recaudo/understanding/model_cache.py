"""Models built from the corpus, kept on disk between processes: each is built
once per key (the examples it learns from, the training code, the versions of
Python, scikit-learn and NumPy) and loaded by every later process.

Trust boundary: unpickling a file runs code, so recaudo loads a model only
from its cache directory, only when the directory and the file are owned by
the current user (or root) and writable by nobody else, and only when the
SHA-256 of the payload matches the one recorded in the file's header by the
process that wrote it. Anyone who can write to the cache directory can run
code as recaudo: keep it private, or point ``RECAUDO_MODEL_CACHE_DIR`` at a
read-only directory built into the image (``recaudo understand
--build-model``). A file that is missing, stale, corrupt or not trusted is
never loaded: the model is rebuilt (and stored, when the directory allows).

File format: one header line ``recaudo-model <json>`` with ``key`` and
``sha256``, then the pickle. A new file is written beside the old one and
renamed over it, under a lock, so a process never reads half a file and two
processes starting at once build the model once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import pickle
import platform
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import sklearn  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAGIC = b"recaudo-model "
#: The modules whose code decides what a model learns: a change to any of
#: them makes every cached model stale.
_TRAINING_CODE = ("classifier.py", "corpus.py", "language.py", "model_cache.py")


class UntrustedCacheError(OSError):
    pass


def training_code_digest() -> str:
    digest = hashlib.sha256()
    for name in _TRAINING_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def cache_key(*parts: str) -> str:
    """The key of a model built from ``parts`` (for example the digest of its
    examples) by this training code, Python, scikit-learn and NumPy."""
    digest = hashlib.sha256()
    for part in (
        *parts,
        training_code_digest(),
        platform.python_version(),
        sklearn.__version__,
        np.__version__,
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``RECAUDO_MODEL_CACHE_DIR``, else the user's cache directory
    (``~/.cache/recaudo/understanding`` on Linux)."""
    from recaudo.settings import get_settings

    configured = get_settings().model_cache_dir
    if configured is not None:
        return configured
    import platformdirs

    return platformdirs.user_cache_path("recaudo") / "understanding"


def _check_trusted(path: Path, info: os.stat_result) -> None:
    """Raise unless ``path`` (whose status is ``info``) is owned by this user
    (or root) and writable by no one else."""
    if info.st_uid not in (os.getuid(), 0):
        raise UntrustedCacheError(
            f"{path} belongs to user id {info.st_uid}, not to this user: not loading a model "
            "from it; set RECAUDO_MODEL_CACHE_DIR to a directory of your own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UntrustedCacheError(
            f"{path} is writable by other users: not loading a model from it; run chmod go-w {path}"
        )


class ModelCache:
    """A directory of models, each stored under a name with the key it was
    built for."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.pkl"

    def load(self, name: str, key: str, kind: type[T]) -> T | None:
        """The model stored as ``name`` if it was built for ``key``, is intact
        and trusted; otherwise None, and a log line saying why."""
        path = self.path(name)
        try:
            _check_trusted(self.directory, os.stat(self.directory))
            with path.open("rb") as file:
                # The status of the file read, not of whatever the name points to later.
                _check_trusted(path, os.fstat(file.fileno()))
                data = file.read()
        except FileNotFoundError:
            log.info("no cached %s in %s: building it", name, self.directory)
            return None
        except OSError as exc:
            log.warning("cached %s not loaded (%s): building it", name, exc)
            return None
        header, _, payload = data.partition(b"\n")
        try:
            if not header.startswith(_MAGIC):
                raise ValueError("no recaudo-model header")
            recorded = json.loads(header[len(_MAGIC) :])
            if not isinstance(recorded, dict):
                raise ValueError("header is not a JSON object")
            if recorded.get("key") != key:
                log.info(
                    "cached %s in %s was built from another corpus, training code or library "
                    "version: rebuilding it",
                    name,
                    self.directory,
                )
                return None
            if recorded.get("sha256") != hashlib.sha256(payload).hexdigest():
                raise ValueError("its content does not match the SHA-256 in its header")
            value = pickle.loads(payload)  # noqa: S301 (verified above: written by recaudo)
            if not isinstance(value, kind):
                raise ValueError(f"it holds a {type(value).__name__}, not a {kind.__name__}")
        # Whatever is wrong with the file, it is rebuilt, never fatal.
        except Exception as exc:
            log.warning("cached %s at %s is corrupt (%s): rebuilding it", name, path, exc)
            return None
        return value

    def store(self, name: str, key: str, value: object) -> None:
        """Write ``value`` as ``name`` for ``key``: a temporary file renamed
        over the old one. A directory that cannot be written is logged, not
        raised: the model is still in memory."""
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        header = json.dumps({"key": key, "sha256": hashlib.sha256(payload).hexdigest()})
        temporary: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o755)
            descriptor, temporary = tempfile.mkstemp(
                dir=self.directory, prefix=f".{name}.", suffix=".tmp"
            )
            with os.fdopen(descriptor, "wb") as out:
                out.write(_MAGIC + header.encode() + b"\n" + payload)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, self.path(name))
            temporary = None
            log.info("stored %s in %s", name, self.directory)
        except OSError as exc:
            log.warning(
                "could not store %s in %s (%s): it will be built again by the next process; "
                "set RECAUDO_MODEL_CACHE_DIR to a writable directory",
                name,
                self.directory,
                exc,
            )
        finally:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """Hold ``name``'s lock (so that one process builds while the others
        wait and then load), or nothing if the directory cannot be written."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o755)
            lock = open(self.directory / f".{name}.lock", "a")  # noqa: SIM115
        except OSError:
            yield
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, name: str, key: str, build: Callable[[], T], kind: type[T]) -> T:
        """The model stored as ``name`` for ``key``, or ``build()`` stored;
        under the lock, so that a process starting while another builds
        waits for it and loads its model."""
        with self._locked(name):
            value = self.load(name, key, kind)
            if value is None:
                value = build()
                self.store(name, key, value)
        return value
