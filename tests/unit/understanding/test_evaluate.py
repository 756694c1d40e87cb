"""Cross-validation folds: fixed per source utterance, and each one a fair
sample of the training split."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.understanding.corpus import load_corpus, split
from recaudo.understanding.evaluate import FOLDS, fold_of
from recaudo.understanding.types import INTENTS, LANGUAGES, Language


@given(st.text(min_size=1, max_size=30))
def test_a_groups_fold_depends_on_its_name_alone(group: str) -> None:
    assert 0 <= fold_of(group) < FOLDS
    assert fold_of(group) == fold_of(group)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_fold_scores_every_intent(language: Language) -> None:
    train, _ = split(load_corpus(language))
    per_fold = Counter((fold_of(e.group), e.intent) for e in train)
    assert all(per_fold[(k, intent)] >= 5 for k in range(FOLDS) for intent in INTENTS)
    sizes = Counter(fold_of(e.group) for e in train)
    assert all(0.15 < sizes[k] / len(train) < 0.35 for k in range(FOLDS))
