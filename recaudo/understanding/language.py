"""Which of recaudo's languages a message is written in, for a debtor whose
language is not known: a character n-gram model trained on the corpus (kept in
the model cache like the intent model), which abstains (returns the fallback)
on messages too short or too mixed to tell."""

from __future__ import annotations

import threading

from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from recaudo.understanding.classifier import corpus_examples, normalise
from recaudo.understanding.corpus import examples_digest
from recaudo.understanding.model_cache import ModelCache, cache_key, default_cache_dir
from recaudo.understanding.types import Language

#: Below this probability for the most likely language, the fallback is kept.
MIN_LANGUAGE_PROBABILITY = 0.6

_lock = threading.Lock()
_model: Pipeline | None = None


#: The name of the language model in the model cache.
MODEL_NAME = "language-model"


def _fit() -> Pipeline:
    examples = corpus_examples()
    model = Pipeline(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4))),
            ("model", LogisticRegression(C=10.0, max_iter=2000)),
        ]
    )
    with threadpool_limits(limits=1):
        model.fit([normalise(e.text) for e in examples], [e.language for e in examples])
    return model


def _language_model() -> Pipeline:
    global _model
    with _lock:
        if _model is None:
            key = cache_key(examples_digest(corpus_examples()))
            _model = ModelCache(default_cache_dir()).get(MODEL_NAME, key, _fit, Pipeline)
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
