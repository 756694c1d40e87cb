"""Which of recaudo's languages a message is written in, for a debtor whose
language is not known: a character n-gram model trained on the corpus, which
abstains (returns the fallback) on messages too short or too mixed to tell."""

from __future__ import annotations

import threading

from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from recaudo.understanding.classifier import normalise
from recaudo.understanding.corpus import load_corpus
from recaudo.understanding.types import LANGUAGES, Language

#: Below this probability for the most likely language, the fallback is kept.
MIN_LANGUAGE_PROBABILITY = 0.6

_lock = threading.Lock()
_model: Pipeline | None = None


def _language_model() -> Pipeline:
    global _model
    with _lock:
        if _model is None:
            texts = [normalise(e.text) for lang in LANGUAGES for e in load_corpus(lang)]
            labels = [lang for lang in LANGUAGES for _ in load_corpus(lang)]
            model = Pipeline(
                [
                    ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4))),
                    ("model", LogisticRegression(C=10.0, max_iter=2000)),
                ]
            )
            with threadpool_limits(limits=1):
                model.fit(texts, labels)
            _model = model
        return _model


def detect_language(text: str, fallback: Language) -> Language:
    """The language ``text`` is most likely written in, or ``fallback`` when
    the model is not sure (short replies such as "ok", "STOP", "?")."""
    model = _language_model()
    probabilities = model.predict_proba([normalise(text)])[0]
    best = int(probabilities.argmax())
    if float(probabilities[best]) < MIN_LANGUAGE_PROBABILITY:
        return fallback
    language: Language = model.classes_[best]
    return language
