"""The sent-ledger's intent and outcome records: one intent per dispatch ever,
each committed before ``begin``/``record`` return, so a process killed right
after keeps it."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.sent_ledger import INTENT, LedgerEntry, LedgerWriter, SentLedger

ROOT = Path(__file__).resolve().parents[3]


def test_an_intent_is_recorded_once_and_replaced_by_the_outcome(tmp_path: Path) -> None:
    ledger = SentLedger(tmp_path / "ledger.sqlite")
    assert ledger.begin("d-1")
    assert not ledger.begin("d-1")
    intent = ledger.get("d-1")
    assert intent is not None and intent.is_intent and intent.status == INTENT
    assert ledger.unresolved() == ["d-1"]
    ledger.record(LedgerEntry("d-1", "ACCEPTED", "wh-1", None, None))
    assert ledger.get("d-1") == LedgerEntry("d-1", "ACCEPTED", "wh-1", None, None)
    assert ledger.unresolved() == []
    # A recorded outcome is never begun again either.
    assert not ledger.begin("d-1")
    ledger.close()


def test_intent_and_outcome_survive_the_process_killed_right_after(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from connectors.sent_ledger import LedgerEntry, SentLedger
        ledger = SentLedger(Path({str(path)!r}))
        ledger.begin("sent")
        ledger.record(LedgerEntry("sent", "ACCEPTED", "wh-1", None, None))
        ledger.begin("in-flight")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=False)
    assert proc.returncode == -signal.SIGKILL
    ledger = SentLedger(path)
    assert ledger.get("sent") == LedgerEntry("sent", "ACCEPTED", "wh-1", None, None)
    assert ledger.unresolved() == ["in-flight"]
    assert not ledger.begin("in-flight") and not ledger.begin("sent")
    ledger.close()
    assert os.path.exists(path)


def test_full_synchronous_ledger_keeps_the_same_records(tmp_path: Path) -> None:
    ledger = SentLedger(tmp_path / "ledger.sqlite", synchronous="full")
    assert ledger.begin("d-1")
    ledger.record(LedgerEntry("d-1", "OUTCOME_UNKNOWN", None, "OUTCOME_UNKNOWN", "why"))
    assert ledger.get("d-1") == LedgerEntry(
        "d-1", "OUTCOME_UNKNOWN", None, "OUTCOME_UNKNOWN", "why"
    )
    ledger.close()


_ids = st.sampled_from(["a", "b", "c"])
_operations = st.lists(
    st.one_of(
        st.tuples(st.just("begin"), _ids),
        st.tuples(st.just("record"), _ids),
        st.tuples(st.just("reopen"), st.just("")),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(operations=_operations)
def test_a_dispatch_is_begun_at_most_once_whatever_happens(
    operations: list[tuple[str, str]],
) -> None:
    """Whatever mix of begins, outcomes and restarts: ``begin`` says yes (the
    provider may be called) once per dispatch at most, and never after an
    outcome is recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite"
        ledger = SentLedger(path)
        begun: set[str] = set()
        recorded: set[str] = set()
        for op, dispatch_id in operations:
            if op == "reopen":
                ledger.close()
                ledger = SentLedger(path)
            elif op == "record":
                ledger.record(LedgerEntry(dispatch_id, "ACCEPTED", None, None, None))
                recorded.add(dispatch_id)
            else:
                allowed = ledger.begin(dispatch_id)
                assert allowed == (dispatch_id not in begun | recorded)
                begun.add(dispatch_id)
        assert set(ledger.unresolved()) == begun - recorded
        ledger.close()


class CountingLedger(SentLedger):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits = 0

    def commit(self, outcomes: list[LedgerEntry], intents: list[str]) -> list[bool]:
        self.commits += 1
        return super().commit(outcomes, intents)


def test_writer_commits_one_round_of_the_loop_together(tmp_path: Path) -> None:
    ledger = CountingLedger(tmp_path / "ledger.sqlite")
    writer = LedgerWriter(ledger)

    async def go() -> list[bool | None]:
        return await asyncio.gather(
            *(writer.begin(f"d-{i}") for i in range(50)),
            writer.begin("d-0"),
            writer.record(LedgerEntry("done", "ACCEPTED", "wh-9", None, None)),
        )

    results = asyncio.run(go())
    assert results == [True] * 50 + [False, None]
    assert ledger.commits == 1
    # Oldest first by the millisecond each was recorded in: compare as sets.
    assert sorted(ledger.unresolved()) == sorted(f"d-{i}" for i in range(50))
    assert ledger.get("done") == LedgerEntry("done", "ACCEPTED", "wh-9", None, None)


def test_writer_hands_a_failed_commit_to_every_waiter(tmp_path: Path) -> None:
    ledger = SentLedger(tmp_path / "ledger.sqlite")
    writer = LedgerWriter(ledger)
    ledger.close()

    async def go() -> list[object]:
        return list(
            await asyncio.gather(
                writer.begin("d-1"),
                writer.record(LedgerEntry("d-2", "ACCEPTED", None, None, None)),
                return_exceptions=True,
            )
        )

    outcomes = asyncio.run(go())
    assert all(isinstance(o, sqlite3.ProgrammingError) for o in outcomes)
