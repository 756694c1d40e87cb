"""The models the understanding tests share, trained once per test process."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from recaudo.understanding.classifier import IntentModel, cached_model
from recaudo.understanding.corpus import Example, load_corpus, split
from recaudo.understanding.model_cache import ModelCache, default_cache_dir
from recaudo.understanding.types import INTENTS, LANGUAGES

#: A Wednesday, 10:00 in Bogotá.
NOW = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
PROFILE = {
    "es": ("America/Bogota", "COP"),
    "pt": ("America/Sao_Paulo", "BRL"),
    "en": ("America/New_York", "USD"),
}


@cache
def train_split_model() -> IntentModel:
    """Trained on the training split only: what the held-out figures measure
    (kept in the model cache like the shipped model, under its own name)."""
    examples = tuple(e for language in LANGUAGES for e in split(load_corpus(language))[0])
    return cached_model(examples, ModelCache(default_cache_dir()), "intent-model-train-split")


def small_corpus() -> tuple[Example, ...]:
    """Three examples per intent and language: a model that trains in a moment."""
    out: list[Example] = []
    for language in LANGUAGES:
        for intent in INTENTS:
            out.extend([e for e in load_corpus(language) if e.intent == intent][:3])
    return tuple(out)
