"""What was published to the embedded broker, kept in the state directory.

The embedded broker keeps its topics in memory: a `recaudo down`, or a killed
runtime, loses them. While `recaudo up` runs, a :class:`JournalRecorder`
copies the input topics (what banks, webhooks and providers write) to
append-only files in ``<state dir>/journal/``; the next `recaudo up` replays
them into its fresh broker (:func:`replay`) before any worker starts, so the
workers rebuild everything derived from the same inputs. Decision and
dispatch ids are deterministic and the connectors' sent-ledgers survive in the
state directory, so the replay contacts nobody again.

One file per topic, one JSON line per record: partition, timestamp, key,
value and headers (bytes as base64). A line cut short by a crash is dropped
at the next replay.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from recaudo.kafka.librdkafka_codes import PARTITION_EOF
from recaudo.kafka.topics import Topics
from recaudo.settings import Settings
from recaudo.view.derived import SOURCE as DERIVED_SOURCE

log = logging.getLogger(__name__)

#: The topics whose records come from outside the pipeline: the bank's events
#: and profiles, and channel responses (from providers and webhooks: their
#: delivery receipts and replies cannot be made again).
JOURNALED = ("debt-events", "debtor-profiles", "channel-responses")
#: The debt events the view derives itself: made again from the replay.
SKIPPED_SOURCES = frozenset({DERIVED_SOURCE.encode()})
#: A connector answering a replayed dispatch from its sent-ledger emits the
#: response it emitted before, with the same id: kept once.
DEDUPLICATED = "channel-responses"

#: How long the recorder keeps reading at a stop for what is still on its way.
DRAIN_QUIET_S = 1.0
DRAIN_MAX_S = 10.0


def journal_dir(state_dir: Path) -> Path:
    return state_dir / "journal"


@dataclass(frozen=True, slots=True)
class Entry:
    partition: int
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def to_line(self) -> bytes:
        data = {
            "p": self.partition,
            "t": self.timestamp,
            "k": _b64(self.key),
            "v": _b64(self.value),
            "h": [[name, _b64(value)] for name, value in self.headers],
        }
        return json.dumps(data, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Entry:
        data = json.loads(line)
        return cls(
            partition=int(data["p"]),
            timestamp=None if data["t"] is None else int(data["t"]),
            key=_unb64(data["k"]),
            value=_unb64(data["v"]),
            headers=[(str(name), _unb64(value) or b"") for name, value in data["h"]],
        )

    @classmethod
    def of(cls, msg: Message) -> Entry:
        kind, stamp = msg.timestamp()
        headers = [(name, value or b"") for name, value in (msg.headers() or [])]
        return cls(
            partition=msg.partition() or 0,
            timestamp=stamp if kind != 0 else None,  # 0: TIMESTAMP_NOT_AVAILABLE
            key=msg.key(),
            value=msg.value(),
            headers=headers,
        )


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def read_entries(path: Path) -> Iterator[Entry]:
    """The journal file's records in order. A last line cut short by a crash
    ends it; a line that cannot be read is skipped (and logged)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith(b"\n"):
                log.warning("%s: dropping the last record, cut short by a crash", path)
                return
            try:
                yield Entry.from_line(line)
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                log.warning("%s:%d: skipping an unreadable record: %s", path, number, exc)


def repair(path: Path) -> None:
    """Cut off a last line a crash left unfinished, so that the next record
    appended starts on a line of its own."""
    try:
        with path.open("r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            data_end = path.read_bytes().rfind(b"\n") + 1
            handle.truncate(data_end)
            os.fsync(handle.fileno())
    except FileNotFoundError:
        return


def kept(state_dir: Path) -> bool:
    """Whether the journal holds any record."""
    directory = journal_dir(state_dir)
    paths = (directory / f"{key}.jsonl" for key in JOURNALED)
    return any(path.is_file() and path.stat().st_size > 0 for path in paths)


#: (topic name, partition) -> the offset the recorder starts at.
Positions = dict[tuple[str, int], int]


def _event_id(headers: list[tuple[str, bytes]]) -> bytes | None:
    return next((value for name, value in headers if name == "ce_id"), None)


@dataclass
class Replayed:
    """What :func:`replay` put back, and where the recorder carries on."""

    #: Records replayed per topic key.
    counts: dict[str, int]
    #: The offset right after the replayed records of each partition.
    positions: Positions
    #: Ids of the channel responses kept already.
    response_ids: set[bytes]


def replay(settings: Settings, state_dir: Path) -> Replayed:
    """Produce the journal into the (fresh, empty) broker of ``settings``."""
    topics = Topics.from_settings(settings)
    directory = journal_dir(state_dir)
    producer = Producer(settings.producer_config(**{"linger.ms": 50}))
    replayed = dict.fromkeys(JOURNALED, 0)
    positions: Positions = {}
    response_ids: set[bytes] = set()
    errors: list[str] = []

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(str(err))
            return
        where = (msg.topic() or "", msg.partition() or 0)
        positions[where] = max(positions.get(where, 0), (msg.offset() or 0) + 1)

    for key in JOURNALED:
        path = directory / f"{key}.jsonl"
        repair(path)
        topic = topics.get(key)
        for entry in read_entries(path):
            if key == DEDUPLICATED:
                event_id = _event_id(entry.headers)
                if event_id is not None:
                    response_ids.add(event_id)
            extra: dict[str, Any] = {}
            if entry.partition < topic.partitions:
                extra["partition"] = entry.partition
            if entry.timestamp is not None:
                extra["timestamp"] = entry.timestamp
            while True:
                try:
                    producer.produce(
                        topic.name,
                        entry.value,
                        entry.key,
                        headers=entry.headers,
                        on_delivery=delivered,
                        **extra,
                    )
                    break
                except BufferError:
                    producer.poll(0.1)
            replayed[key] += 1
            producer.poll(0)
    remaining = producer.flush(60)
    if remaining or errors:
        raise RuntimeError(
            f"replaying the journal in {directory}: {remaining} record(s) not acknowledged, "
            f"errors: {errors[:3]}"
        )
    return Replayed(replayed, positions, response_ids)


class JournalRecorder(threading.Thread):
    """Copies new records of the journaled topics to their journal files.

    It reads by partition from ``positions`` (no consumer group: the embedded
    broker starts empty each run), appends, fsyncs, then reads on. :meth:`stop`
    first reads what is still on its way.
    """

    def __init__(self, settings: Settings, state_dir: Path, replayed: Replayed) -> None:
        super().__init__(name="recaudo-journal", daemon=True)
        self.settings = settings
        self.directory = journal_dir(state_dir)
        self.topics = Topics.from_settings(settings)
        self.positions = dict(replayed.positions)
        self.response_ids = set(replayed.response_ids)
        self.recorded = 0
        self.failure: str | None = None
        self._stop_requested = threading.Event()
        self._files: dict[str, IO[bytes]] = {}
        self._keys = {self.topics.name(key): key for key in JOURNALED}
        self._ready = threading.Event()

    def start_recording(self, timeout_s: float = 30.0) -> None:
        """Start, and return once its partitions are assigned."""
        self.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"the journal recorder did not start within {timeout_s:.0f} s")
        if self.failure is not None:
            raise RuntimeError(self.failure)

    def stop(self) -> None:
        self._stop_requested.set()
        if self.is_alive():
            self.join(DRAIN_MAX_S + 10)

    def run(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        consumer: Consumer | None = None
        try:
            consumer = Consumer(
                self.settings.consumer_config(
                    f"{self.settings.topic_prefix}.journal",
                    **{"enable.auto.commit": False, "enable.auto.offset.store": False},
                )
            )
            assignment = [
                TopicPartition(
                    topic.name, partition, self.positions.get((topic.name, partition), 0)
                )
                for topic in (self.topics.get(key) for key in JOURNALED)
                for partition in range(topic.partitions)
            ]
            consumer.assign(assignment)
            self._ready.set()
            while not self._stop_requested.is_set():
                self._record(consumer, consumer.consume(500, 0.2))
            self._drain(consumer)
        except Exception as exc:
            self.failure = f"the journal recorder stopped: {type(exc).__name__}: {exc}"
            log.error("%s", self.failure, exc_info=True)
        finally:
            self._ready.set()
            if consumer is not None:
                consumer.close()
            for handle in self._files.values():
                handle.close()

    def _partitions(self) -> list[tuple[str, int]]:
        return [(t.name, t.partitions) for t in (self.topics.get(key) for key in JOURNALED)]

    def _drain(self, consumer: Consumer) -> None:
        deadline = time.monotonic() + DRAIN_MAX_S
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < DRAIN_QUIET_S:
            batch = consumer.consume(500, 0.2)
            if batch:
                quiet_since = time.monotonic()
            self._record(consumer, batch)

    def _record(self, consumer: Consumer, batch: list[Message]) -> None:
        #: key -> the file's size before this batch
        written: dict[str, int] = {}
        first: dict[tuple[str, int], int] = {}
        lines = 0
        fresh_ids: list[bytes] = []
        try:
            for msg in batch:
                if msg.error() is not None:
                    if msg.error().code() != PARTITION_EOF:
                        log.warning("journal recorder: %s", msg.error())
                    continue
                topic = msg.topic() or ""
                first.setdefault((topic, msg.partition() or 0), msg.offset() or 0)
                headers = [(name, value or b"") for name, value in (msg.headers() or [])]
                if any(name == "ce_source" and value in SKIPPED_SOURCES for name, value in headers):
                    continue
                key = self._keys[topic]
                if key == DEDUPLICATED:
                    event_id = _event_id(headers)
                    if event_id is not None and event_id in self.response_ids:
                        continue
                    if event_id is not None:
                        fresh_ids.append(event_id)
                handle = self._file(key)
                written.setdefault(key, handle.tell())
                handle.write(Entry.of(msg).to_line())
                lines += 1
            for key in written:
                handle = self._files[key]
                handle.flush()
                os.fsync(handle.fileno())
            self.recorded += lines
            self.response_ids.update(fresh_ids)
        except OSError as exc:
            # Undo this batch's partial writes and read it again once the disk
            # takes it (a full disk, say).
            log.error("journal recorder: cannot write to %s: %s", self.directory, exc)
            for key, size in written.items():
                handle = self._files.pop(key)
                with contextlib.suppress(OSError):
                    handle.close()
                with contextlib.suppress(OSError):
                    os.truncate(self.directory / f"{key}.jsonl", size)
            for (topic, partition), offset in first.items():
                try:
                    consumer.seek(TopicPartition(topic, partition, offset))
                except KafkaException:
                    log.warning("journal recorder: cannot seek back %s[%d]", topic, partition)
            self._stop_requested.wait(1.0)

    def _file(self, key: str) -> IO[bytes]:
        handle = self._files.get(key)
        if handle is None:
            handle = (self.directory / f"{key}.jsonl").open("ab")
            self._files[key] = handle
        return handle
