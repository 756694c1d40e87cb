"""The ``recaudo`` command line."""

from recaudo.cli.main import main

__all__ = ["main"]
