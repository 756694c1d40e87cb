"""Shared fixtures live in ``fixtures.py`` files, registered here."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures",
    "tests.integration.fixtures",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/integration needs the broker or Postgres, marked
    # or not: the fast lane (``-m "not integration"``) must never start them.
    for item in items:
        if item.nodeid.startswith("tests/integration/"):
            item.add_marker(pytest.mark.integration)
