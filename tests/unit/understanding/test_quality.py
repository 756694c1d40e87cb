"""The classifier's quality on the held-out split it never trained on.

The thresholds are the figures documented in docs/conversations.md
("Understanding"), rounded down; they fail the build if a change to the
corpus, features or decision makes the model worse."""

from __future__ import annotations

import pytest

from recaudo.understanding.corpus import load_corpus, split
from recaudo.understanding.evaluate import score
from recaudo.understanding.types import LANGUAGES, Language
from tests.unit.understanding.fixtures import train_split_model

MIN_MACRO_F1: dict[Language, float] = {"es": 0.91, "pt": 0.92, "en": 0.90}
MIN_OPT_OUT_RECALL = 0.99


@pytest.mark.parametrize("language", LANGUAGES)
def test_held_out_quality(language: Language) -> None:
    _, held_out = split(load_corpus(language))
    scores = score(train_split_model(), language, held_out)
    assert scores.macro_f1 >= MIN_MACRO_F1[language], scores.per_intent
    assert scores.opt_out_recall >= MIN_OPT_OUT_RECALL, scores.per_intent["opt_out"]
