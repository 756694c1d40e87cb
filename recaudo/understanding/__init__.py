"""Understanding what a debtor writes: intent, confidence and entities, as pure logic."""

from recaudo.understanding.types import (
    INTENTS,
    LANGUAGES,
    Amount,
    Entities,
    Intent,
    Language,
    OptOutScope,
    Understanding,
)

__all__ = [
    "INTENTS",
    "LANGUAGES",
    "Amount",
    "Entities",
    "Intent",
    "Language",
    "OptOutScope",
    "Understanding",
]
