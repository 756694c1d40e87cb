"""The intent classifier: TF-IDF character and word n-grams into a logistic
regression, one model for es, pt and en with the language as a feature,
trained from the corpus in a few seconds at first use and kept in memory for
the life of the process."""

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
    corpus_digest,
    load_corpus,
    strip_accents,
)
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
    ``examples``, trained from them the first time it is asked for."""

    def __init__(
        self,
        pipeline: Pipeline | None = None,
        examples: Callable[[], Iterable[Example]] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._examples = examples
        self._lock = threading.Lock()
        #: The corpus the model was trained from.
        self.digest = corpus_digest()

    def pipeline(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                if self._examples is None:
                    raise ValueError("an IntentModel needs a fitted pipeline or examples")
                self._pipeline = _fit(tuple(self._examples()), augment=True)
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


def _fit(rows: tuple[Example, ...], *, augment: bool) -> Pipeline:
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
    return IntentModel(_fit(tuple(examples), augment=augment))


_lock = threading.Lock()
_model: IntentModel | None = None


def default_model() -> IntentModel:
    """The model trained on the whole corpus (train and held-out splits), built
    once per process, each language's part when first asked for."""
    global _model
    with _lock:
        if _model is None:
            _model = IntentModel(
                examples=lambda: (e for language in LANGUAGES for e in load_corpus(language))
            )
        return _model
