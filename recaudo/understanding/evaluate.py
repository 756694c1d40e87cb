"""Train on the training split and measure on the held-out split:
``python -m recaudo.understanding.evaluate``.

Prints, per language, precision, recall and F1 per intent, macro-F1 and
opt-out recall, for the decision ``understand`` ships (classifier plus the
opt-out rule) and for the classifier alone; ``--noisy`` also scores the
held-out utterances' noisy variants (no accents, typos, emoji). The split is
by source utterance (``corpus.SPLIT_SEED``), so no spelling of a held-out
utterance is trained on.

``--cross-validate`` instead scores the training split alone, by 4-fold
cross-validation by source utterance, at several opt-out thresholds: the
figures the model and the threshold are chosen by, without the held-out split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from sklearn.metrics import (  # type: ignore[import-untyped]
    f1_score,
    precision_recall_fscore_support,
)

from recaudo.understanding.classifier import IntentModel, train
from recaudo.understanding.corpus import Example, augmented, load_corpus, split
from recaudo.understanding.opt_out import explicit_opt_out
from recaudo.understanding.types import INTENTS, LANGUAGES, Intent, Language
from recaudo.understanding.understand import decide


@dataclass(frozen=True)
class Scores:
    language: Language
    examples: int
    macro_f1: float
    opt_out_recall: float
    #: intent -> (precision, recall, f1, support)
    per_intent: dict[Intent, tuple[float, float, float, int]]
    classifier_macro_f1: float
    classifier_opt_out_recall: float


def _recall(gold: list[Intent], predicted: list[Intent], intent: Intent) -> float:
    hits = [p == intent for g, p in zip(gold, predicted, strict=True) if g == intent]
    return sum(hits) / len(hits) if hits else 1.0


def score(model: IntentModel, language: Language, held_out: tuple[Example, ...]) -> Scores:
    texts = [e.text for e in held_out]
    gold: list[Intent] = [e.intent for e in held_out]
    probabilities = model.probabilities_many(texts, language)
    raw: list[Intent] = [p[0][0] for p in probabilities]
    decided: list[Intent] = [decide(p, t)[0] for p, t in zip(probabilities, texts, strict=True)]
    labels = [i for i in INTENTS if i in gold]
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, decided, labels=labels, zero_division=0
    )
    per_intent = {
        label: (float(precision[k]), float(recall[k]), float(f1[k]), int(support[k]))
        for k, label in enumerate(labels)
    }
    return Scores(
        language=language,
        examples=len(held_out),
        macro_f1=float(f1_score(gold, decided, labels=labels, average="macro", zero_division=0)),
        opt_out_recall=_recall(gold, decided, "opt_out"),
        per_intent=per_intent,
        classifier_macro_f1=float(
            f1_score(gold, raw, labels=labels, average="macro", zero_division=0)
        ),
        classifier_opt_out_recall=_recall(gold, raw, "opt_out"),
    )


def evaluate(*, noisy: bool = False) -> dict[str, list[Scores]]:
    """Train on the training split of every language and score its held-out
    split (and, with ``noisy``, the held-out split's noisy variants)."""
    splits = {language: split(load_corpus(language)) for language in LANGUAGES}
    model = train(e for train_split, _ in splits.values() for e in train_split)
    runs = {"held-out": [score(model, lang, held) for lang, (_, held) in splits.items()]}
    if noisy:
        runs["held-out, noisy variants"] = [
            score(model, lang, augmented(held)) for lang, (_, held) in splits.items()
        ]
    return runs


FOLDS = 4


def fold_of(group: str) -> int:
    """The cross-validation fold a source utterance is scored in: a hash of its
    group, so that adding messages never moves the others between folds and
    figures before and after a corpus change score the same messages alike."""
    digest = hashlib.sha256(f"fold:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % FOLDS


#: The opt-out thresholds ``--cross-validate`` scores.
THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.3)


def cross_validate(
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> dict[float, dict[Language, tuple[float, float, float]]]:
    """threshold -> language -> (macro-F1 of the decision, macro-F1 of the
    classifier alone, opt-out recall of the decision), pooled over 4 folds of
    the training split, each source utterance's fold fixed by ``fold_of``."""
    folds: list[tuple[list[Example], list[Example]]] = [([], []) for _ in range(FOLDS)]
    for language in LANGUAGES:
        for example in split(load_corpus(language))[0]:
            scored_in = fold_of(example.group)
            for k, (trained, scored) in enumerate(folds):
                (scored if k == scored_in else trained).append(example)
    pooled: dict[Language, list[tuple[Intent, list[tuple[Intent, float]], str]]] = {
        language: [] for language in LANGUAGES
    }
    for trained, scored in folds:
        model = train(trained)
        for language in LANGUAGES:
            mine = [e for e in scored if e.language == language]
            texts = [e.text for e in mine]
            for e, p in zip(mine, model.probabilities_many(texts, language), strict=True):
                pooled[language].append((e.intent, p, e.text))
    out: dict[float, dict[Language, tuple[float, float, float]]] = {}
    for threshold in thresholds:
        out[threshold] = {}
        for language, scored_rows in pooled.items():
            gold = [g for g, _, _ in scored_rows]
            raw = [p[0][0] for _, p, _ in scored_rows]
            decided: list[Intent] = [
                "opt_out" if explicit_opt_out(t) or dict(p)["opt_out"] >= threshold else p[0][0]
                for _, p, t in scored_rows
            ]
            out[threshold][language] = (
                float(f1_score(gold, decided, average="macro", zero_division=0)),
                float(f1_score(gold, raw, average="macro", zero_division=0)),
                _recall(gold, decided, "opt_out"),
            )
    return out


def _print_cross_validation(out: TextIO = sys.stdout) -> None:
    print(
        f"# {FOLDS}-fold cross-validation on the training split: "
        "macro-F1 (classifier alone), opt-out recall",
        file=out,
    )
    for threshold, by_language in cross_validate().items():
        cells = "  ".join(
            f"{language} {f1:.3f} ({raw:.3f}), {recall:.3f}"
            for language, (f1, raw, recall) in by_language.items()
        )
        print(f"threshold {threshold:<5} {cells}", file=out)


def _print(results: list[Scores], out: TextIO = sys.stdout) -> None:
    for s in results:
        print(f"\n== {s.language}: {s.examples} held-out messages", file=out)
        print(f"{'intent':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>4}", file=out)
        for intent, (p, r, f, n) in s.per_intent.items():
            print(f"{intent:<16} {p:>9.3f} {r:>7.3f} {f:>6.3f} {n:>4}", file=out)
        print(
            f"macro-F1 {s.macro_f1:.3f}  opt-out recall {s.opt_out_recall:.3f}  "
            f"(classifier alone: macro-F1 {s.classifier_macro_f1:.3f}, "
            f"opt-out recall {s.classifier_opt_out_recall:.3f})",
            file=out,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m recaudo.understanding.evaluate",
        description="Train the intent classifier on the training split and print "
        "per-language, per-intent precision/recall/F1 on the held-out split.",
    )
    parser.add_argument(
        "--noisy",
        action="store_true",
        help="Score the held-out utterances' noisy variants (no accents, typos, emoji) too.",
    )
    parser.add_argument("--json", action="store_true", help="One JSON object per language.")
    parser.add_argument(
        "--cross-validate",
        action="store_true",
        help="Score the training split alone by 4-fold cross-validation at several opt-out "
        "thresholds (how the model and threshold are chosen) instead of the held-out split.",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.cross_validate:
        _print_cross_validation()
        print(f"\n({time.perf_counter() - started:.1f} s)", file=sys.stderr)
        return
    for name, results in evaluate(noisy=args.noisy).items():
        if args.json:
            for s in results:
                print(
                    json.dumps(
                        {
                            "split": name,
                            "language": s.language,
                            "examples": s.examples,
                            "macro_f1": round(s.macro_f1, 4),
                            "opt_out_recall": round(s.opt_out_recall, 4),
                            "classifier_macro_f1": round(s.classifier_macro_f1, 4),
                            "classifier_opt_out_recall": round(s.classifier_opt_out_recall, 4),
                        }
                    )
                )
            continue
        print(f"# {name}")
        _print(results)
    print(f"\n({time.perf_counter() - started:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
