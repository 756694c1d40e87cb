"""A stream processor in the main thread (its signal handlers need it) with
the test's scenario beside it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from streams.debtor_view import DebtorViewProcessor


def run_with(processor: DebtorViewProcessor, scenario: Callable[[], None]) -> None:
    """Run ``processor`` until ``scenario`` ends; the scenario's failure is raised here."""
    failure: list[BaseException] = []

    def drive() -> None:
        try:
            scenario()
        except BaseException as exc:  # surfaced in the main thread below
            failure.append(exc)
        finally:
            processor.stop()

    thread = threading.Thread(target=drive)
    thread.start()
    processor.run()
    thread.join()
    if failure:
        raise failure[0]
