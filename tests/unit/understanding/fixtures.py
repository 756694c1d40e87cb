"""The models the understanding tests share, trained once per test process."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from recaudo.understanding.classifier import IntentModel, train
from recaudo.understanding.corpus import load_corpus, split
from recaudo.understanding.types import LANGUAGES

#: A Wednesday, 10:00 in Bogotá.
NOW = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
PROFILE = {
    "es": ("America/Bogota", "COP"),
    "pt": ("America/Sao_Paulo", "BRL"),
    "en": ("America/New_York", "USD"),
}


@cache
def train_split_model() -> IntentModel:
    """Trained on the training split only: what the held-out figures measure."""
    return train(e for language in LANGUAGES for e in split(load_corpus(language))[0])
