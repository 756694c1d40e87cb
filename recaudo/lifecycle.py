"""The start/stop lifecycle every long-lived component shares."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Service:
    """A component with an explicit lifecycle: ``start()`` returns it,
    ``stop()`` releases everything, and ``with`` does both."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
