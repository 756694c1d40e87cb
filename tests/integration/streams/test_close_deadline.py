"""A stream worker whose consumer never closes exits with EXIT_CODE, so its
supervisor restarts it: the wrapped close is the one quixstreams (or the
publisher) really calls at shutdown. Each worker runs in a child process of
its own, as `recaudo streams run` does, since it ends by os._exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from recaudo.kafka.close_deadline import EXIT_CODE
from recaudo.settings import Settings, env_for_children

pytestmark = pytest.mark.integration

CHILD = """
import threading
from recaudo.settings import Settings

settings = Settings()
hang = threading.Event().wait  # a close that never returns
if {publisher}:
    from streams.view_publisher import ViewPublisher

    worker = ViewPublisher(settings)
    worker._close_consumer = hang
    worker.exit_if_close_hangs(1.0)
else:
    from streams.debtor_view import DebtorViewProcessor

    worker = DebtorViewProcessor(settings, orchestrate=False, timers=False)
    worker.processor.app._consumer.close = hang
    worker.processor.exit_if_close_hangs(1.0)
threading.Timer(3.0, worker.stop).start()
worker.run()
print("returned", flush=True)
"""


@pytest.mark.parametrize("publisher", [False, True], ids=["view", "publisher"])
def test_a_worker_whose_close_hangs_exits_to_be_restarted(
    topics_ready: Settings, publisher: bool
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD.format(publisher=publisher)],
        env=env_for_children(topics_ready),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == EXIT_CODE, result.stderr[-2000:]
    assert "returned" not in result.stdout
    assert "close still running" in result.stderr
