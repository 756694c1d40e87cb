"""The classifier's quality on the held-out split it never trained on.

The targets are those documented in docs/conversations.md ("Quality"):
macro-F1 of at least 0.93 in every language and an opt-out recall of at
least 0.99. Where the held-out figure is still below its target (documented
there as not met), the build fails below the measured figure, rounded down,
so that no change makes it worse; raise it to the target once it is met."""

from __future__ import annotations

import pytest

from recaudo.understanding.corpus import load_corpus, split
from recaudo.understanding.evaluate import score
from recaudo.understanding.types import LANGUAGES, Language
from tests.unit.understanding.fixtures import train_split_model

TARGET_MACRO_F1 = 0.93
TARGET_OPT_OUT_RECALL = 0.99
MIN_MACRO_F1: dict[Language, float] = {"es": 0.92, "pt": 0.90, "en": 0.90}
MIN_OPT_OUT_RECALL: dict[Language, float] = dict.fromkeys(LANGUAGES, TARGET_OPT_OUT_RECALL)


@pytest.mark.parametrize("language", LANGUAGES)
def test_held_out_quality(language: Language) -> None:
    _, held_out = split(load_corpus(language))
    scores = score(train_split_model(), language, held_out)
    assert scores.macro_f1 >= MIN_MACRO_F1[language], scores.per_intent
    assert scores.opt_out_recall >= MIN_OPT_OUT_RECALL[language], scores.per_intent["opt_out"]
