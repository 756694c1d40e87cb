"""`recaudo up --detach` repeats what its start-up dropped and replayed, and
says nothing of it on a first run."""

from __future__ import annotations

from pathlib import Path

from recaudo.embedded.runtime import _restore_lines


def test_only_this_runs_restore_steps_that_did_something(tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    earlier = "replaying the journal… 5 published record(s) back (debt-events 5) (0.1 s)\n"
    log.write_text(earlier)
    offset = log.stat().st_size
    with log.open("a") as out:
        out.write("starting broker (Tansu)… ready on 127.0.0.1:1 (0.1 s)\n")
        out.write("clearing derived state… none (0.0 s)\n")
        out.write("replaying the journal… nothing kept (0.0 s)\n")
    assert _restore_lines(log, offset) == []
    with log.open("a") as out:
        out.write("clearing derived state… 2 debtor view(s), 0 KPI row(s) and the stream ")
        out.write("state dropped; rebuilt from the journal (0.1 s)\n")
        out.write("replaying the journal… 9 published record(s) back (debt-events 9) (0.2 s)\n")
    assert _restore_lines(log, offset) == [
        "clearing derived state… 2 debtor view(s), 0 KPI row(s) and the stream state dropped; "
        "rebuilt from the journal (0.1 s)",
        "replaying the journal… 9 published record(s) back (debt-events 9) (0.2 s)",
    ]
