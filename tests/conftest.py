"""Shared fixtures live in ``fixtures.py`` files, registered here."""

pytest_plugins = [
    "tests.fixtures",
    "tests.integration.fixtures",
]
