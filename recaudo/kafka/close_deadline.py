"""A close that does not return ends the process.

A worker of its own process (``recaudo streams run``, ``recaudo connector
run``) is restarted by whatever supervises it (``recaudo up``, Kubernetes) when
it exits. After a fatal error, a quixstreams application against the embedded
broker has been seen to hang for good in its Kafka consumer's ``close``:
alive, so never restarted, and doing nothing. With the close wrapped here, the
process exits with :data:`EXIT_CODE` once the close has run ``deadline_s``
without returning. Nothing is lost by that: offsets are committed only after
their outputs were acknowledged, and what was not committed is read again.

Only for a process that is the worker itself: an embedding application
(a test, a notebook) keeps its consumer's close as it is."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Final

log = logging.getLogger(__name__)

#: EX_SOFTWARE: an internal error, for the supervisor's log.
EXIT_CODE: Final = 70
#: How long a worker's consumer may take to close (it leaves its group: seconds).
DEADLINE_S: Final = 30.0


def close_or_exit(
    close: Callable[[], None],
    deadline_s: float,
    what: str,
    *,
    exit: Callable[[int], object] = os._exit,
) -> Callable[[], None]:
    """``close``, but should it run longer than ``deadline_s`` the process
    exits with :data:`EXIT_CODE` (``exit``, os._exit: no cleanup that could
    hang in turn)."""
    if deadline_s <= 0:
        raise ValueError(f"deadline_s must be positive, got {deadline_s}")

    def bounded() -> None:
        returned = threading.Event()

        def watch() -> None:
            if not returned.wait(deadline_s):
                log.error(
                    "%s: close still running after %.0f s; exiting (code %d) to be restarted",
                    what,
                    deadline_s,
                    EXIT_CODE,
                )
                exit(EXIT_CODE)

        threading.Thread(target=watch, name=f"close-deadline {what}", daemon=True).start()
        try:
            close()
        finally:
            returned.set()

    return bounded
