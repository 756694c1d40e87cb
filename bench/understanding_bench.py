"""Messages per second of intent classification, and the cost of entity
extraction and of a whole ``understand`` call, on one core.

    python -m bench.understanding_bench --seconds 3

The messages are the corpus's own utterances and their noisy variants in es,
pt and en, in a fixed shuffled order, one message per call (as the stream
worker calls it), and the classifier also on batches of 100. BLAS runs on
one thread. Prints the model's build time (training from the corpus) and
load time (from the model cache), then messages/s and microseconds per
message for: the classifier alone, date, amount and instalment extraction,
and ``understand`` end to end; nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from recaudo.understanding.amounts import extract_amounts, extract_instalments
from recaudo.understanding.classifier import IntentModel, corpus_examples, fit_pipeline
from recaudo.understanding.corpus import augmented, load_corpus
from recaudo.understanding.dates import extract_dates
from recaudo.understanding.model_cache import ModelCache
from recaudo.understanding.types import LANGUAGES, Language
from recaudo.understanding.understand import understand

NOW = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
PROFILE: dict[Language, tuple[str, str]] = {
    "es": ("America/Bogota", "COP"),
    "pt": ("America/Sao_Paulo", "BRL"),
    "en": ("America/New_York", "USD"),
}


def messages() -> list[tuple[str, Language]]:
    rows = [(e.text, e.language) for lang in LANGUAGES for e in augmented(load_corpus(lang))]
    random.Random(7).shuffle(rows)
    return rows


def rate(
    name: str, call: Callable[[str, Language], object], rows: list[tuple[str, Language]], s: float
) -> None:
    done = 0
    started = time.process_time()
    deadline = time.perf_counter() + s
    while time.perf_counter() < deadline:
        for text, language in rows[done % len(rows) : done % len(rows) + 100]:
            call(text, language)
            done += 1
    cpu = time.process_time() - started
    per_message = cpu / done * 1e6
    print(f"{name:<34} {done / cpu:>9,.0f} msg/s  {per_message:>8,.0f} µs/msg  ({done:,} msgs)")


def batch_rate(model: IntentModel, rows: list[tuple[str, Language]], s: float) -> None:
    """The classifier on batches of 100 messages of one language (a backlog)."""
    by_language: dict[Language, list[str]] = {}
    for text, language in rows:
        by_language.setdefault(language, []).append(text)
    done = 0
    started = time.process_time()
    deadline = time.perf_counter() + s
    while time.perf_counter() < deadline:
        for language, texts in by_language.items():
            start = done % (len(texts) - 100)
            model.probabilities_many(texts[start : start + 100], language)
            done += 100
    cpu = time.process_time() - started
    per_message = cpu / done * 1e6
    name = "classifier, batches of 100"
    print(f"{name:<34} {done / cpu:>9,.0f} msg/s  {per_message:>8,.0f} µs/msg  ({done:,} msgs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="Per measurement.")
    args = parser.parse_args()
    with threadpool_limits(limits=1):
        rows = messages()
        started = time.process_time()
        pipeline = fit_pipeline(corpus_examples(), augment=True)
        print(f"model built from the corpus in {time.process_time() - started:.2f} s CPU")
        with tempfile.TemporaryDirectory() as directory:
            cache = ModelCache(Path(directory))
            cache.store("intent-model", "bench", pipeline)
            size = cache.path("intent-model").stat().st_size
            started = time.process_time()
            loaded = cache.load("intent-model", "bench", Pipeline)
            print(
                f"model loaded from the cache in {time.process_time() - started:.2f} s CPU "
                f"({size / 1e6:.1f} MB)"
            )
        model = IntentModel(loaded)
        understand("warm up: el viernes", language="es", time_zone="UTC", currency="USD", now=NOW)
        print(f"{len(rows):,} distinct messages (es, pt, en, with noisy variants)\n")
        rate("classifier (intent probabilities)", model.probabilities, rows, args.seconds)
        batch_rate(model, rows, args.seconds)
        rate(
            "dates",
            lambda t, lang: extract_dates(t, lang, now=NOW, time_zone=PROFILE[lang][0]),
            rows,
            args.seconds,
        )
        rate(
            "amounts and instalments",
            lambda t, lang: (
                extract_amounts(t, lang, currency=PROFILE[lang][1]),
                extract_instalments(t),
            ),
            rows,
            args.seconds,
        )
        rate(
            "understand (all of it)",
            lambda t, lang: understand(
                t, language=lang, time_zone=PROFILE[lang][0], currency=PROFILE[lang][1], now=NOW
            ),
            rows,
            args.seconds,
        )
        rate(
            "understand, language detected",
            lambda t, lang: understand(
                t, language=None, time_zone=PROFILE[lang][0], currency=PROFILE[lang][1], now=NOW
            ),
            rows,
            args.seconds,
        )


if __name__ == "__main__":
    main()
