"""Identifiers masked for lists: enough to tell two rows apart, not enough to
name a debtor or an account."""

from __future__ import annotations

from typing import Final

MASK: Final = "•"


def mask_id(value: str | None) -> str:
    """The first two and last two characters of ``value``, the rest masked;
    an identifier of six characters or fewer shows only its last one."""
    if not value:
        return ""
    if len(value) <= 6:
        return MASK * (len(value) - 1) + value[-1]
    return value[:2] + MASK * (len(value) - 4) + value[-2:]
