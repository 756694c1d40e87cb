"""The intent classifier: TF-IDF character and word n-grams into a logistic
regression, one model for es, pt and en with the language as a feature,
trained from the corpus once per corpus and training code (a few seconds of
one core), kept in the model cache for later processes and in memory for the
life of the process."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]
    TfidfVectorizer,
)
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.pipeline import FeatureUnion, Pipeline  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from recaudo.understanding.corpus import (
    Example,
    augmented,
    examples_digest,
    load_corpus,
    strip_accents,
)
from recaudo.understanding.model_cache import ModelCache, cache_key, default_cache_dir
from recaudo.understanding.types import INTENTS, LANGUAGES, Intent, Language

_REPEATS = re.compile(r"(.)\1{2,}")
_DIGITS = re.compile(r"\d")
_SPACES = re.compile(r"\s+")
# Words, and every other symbol (an emoji, "?") as a token of its own.
_WORD_OR_SYMBOL = r"(?u)\b\w+\b|[^\w\s]"


def normalise(text: str) -> str:
    """What the model sees: lower case, no accents, letters repeated at most
    twice ("graciasss"), every digit a 0 (a date is a date whatever the day)."""
    text = strip_accents(text.lower())
    text = _REPEATS.sub(r"\1\1", text)
    text = _DIGITS.sub("0", text)
    return _SPACES.sub(" ", text).strip()


def _pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1
                ),
            ),
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    token_pattern=_WORD_OR_SYMBOL,
                ),
            ),
        ]
    )
    return Pipeline(
        [
            ("features", features),
            ("model", LogisticRegression(C=20.0, max_iter=3000)),
        ]
    )


def model_input(text: str, language: Language) -> str:
    """The language as a token of its own (``xxes``, ``xxpt``, ``xxen``), then
    the normalised text: one model learns from all three languages at once."""
    return f"xx{language} {normalise(text)}"


class IntentModel:
    """One pipeline for every language, the language a feature; with
    ``build``, built by it the first time it is asked for."""

    def __init__(
        self,
        pipeline: Pipeline | None = None,
        build: Callable[[], Pipeline] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._build = build
        self._lock = threading.Lock()

    def pipeline(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                if self._build is None:
                    raise ValueError("an IntentModel needs a fitted pipeline or a build")
                self._pipeline = self._build()
            return self._pipeline

    def probabilities(self, text: str, language: Language) -> list[tuple[Intent, float]]:
        """Every intent with its probability, most likely first."""
        return self.probabilities_many([text], language)[0]

    def probabilities_many(
        self, texts: Sequence[str], language: Language
    ) -> list[list[tuple[Intent, float]]]:
        pipeline = self.pipeline()
        classes: list[Intent] = list(pipeline.classes_)
        matrix = pipeline.predict_proba([model_input(t, language) for t in texts])
        out: list[list[tuple[Intent, float]]] = []
        for row in np.asarray(matrix):
            scores: dict[Intent, float] = dict.fromkeys(INTENTS, 0.0)
            for intent, p in zip(classes, row, strict=True):
                scores[intent] = float(p)
            out.append(sorted(scores.items(), key=lambda kv: (-kv[1], INTENTS.index(kv[0]))))
        return out


def fit_pipeline(rows: tuple[Example, ...], *, augment: bool) -> Pipeline:
    """A pipeline trained on ``rows`` and, with ``augment``, their noisy variants."""
    data = augmented(rows) if augment else rows
    # Variants that read the same once normalised (case, accents) add nothing.
    unique = {(model_input(e.text, e.language), e.intent): e for e in data}
    pipeline = _pipeline()
    # One thread: on a shared machine, BLAS threads cost several times the CPU.
    with threadpool_limits(limits=1):
        pipeline.fit([text for text, _ in unique], [intent for _, intent in unique])
    return pipeline


def train(examples: Iterable[Example], *, augment: bool = True) -> IntentModel:
    """A model trained on ``examples`` (any languages) and, with ``augment``,
    their noisy variants."""
    return IntentModel(fit_pipeline(tuple(examples), augment=augment))


def cached_model(examples: Sequence[Example], cache: ModelCache, name: str) -> IntentModel:
    """The model trained on ``examples`` and their noisy variants, built when
    first asked for: loaded from ``cache`` when a process built it before from
    the same examples and training code, else trained and stored there."""
    rows = tuple(examples)

    def build() -> Pipeline:
        key = cache_key(examples_digest(rows))
        return cache.get(name, key, lambda: fit_pipeline(rows, augment=True), Pipeline)

    return IntentModel(build=build)


def corpus_examples() -> tuple[Example, ...]:
    """Every language's whole corpus (train and held-out splits)."""
    return tuple(e for language in LANGUAGES for e in load_corpus(language))


_lock = threading.Lock()
_model: IntentModel | None = None

#: The name of the shipped model in the model cache.
MODEL_NAME = "intent-model"


def default_model() -> IntentModel:
    """The model trained on the whole corpus, loaded from the model cache
    (``RECAUDO_MODEL_CACHE_DIR``) or built and stored there, once per process
    when first asked for."""
    global _model
    with _lock:
        if _model is None:
            _model = cached_model(corpus_examples(), ModelCache(default_cache_dir()), MODEL_NAME)
        return _model
