"""The corpus covers every intent in every language, and the held-out split is
fixed and shares no source utterance (in any spelling) with training."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.understanding.classifier import normalise
from recaudo.understanding.corpus import (
    Example,
    augmented,
    held_out_groups,
    load_corpus,
    split,
    variants,
)
from recaudo.understanding.types import INTENTS, LANGUAGES, Language


def _key(text: str) -> str:
    return re.sub(r"[^\w\s]", "", normalise(text)).strip() or normalise(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_intent_has_hand_written_examples(language: Language) -> None:
    counts = Counter(e.intent for e in load_corpus(language))
    assert set(counts) == set(INTENTS)
    assert min(counts.values()) >= 60


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_split_is_by_group_and_leaks_nothing(language: Language) -> None:
    examples = load_corpus(language)
    train, held_out = split(examples)
    assert {e.group for e in train}.isdisjoint({e.group for e in held_out})
    # No held-out utterance reads like a trained one once case, accents,
    # digits and punctuation are set aside.
    trained = {_key(e.text) for e in train}
    assert not trained & {_key(e.text) for e in held_out}
    held = Counter(e.intent for e in held_out)
    assert set(held) == set(INTENTS)
    assert 0.15 < len(held_out) / len(examples) < 0.25


def test_the_split_is_fixed_by_its_seed() -> None:
    examples = load_corpus("es")
    assert held_out_groups(examples) == held_out_groups(examples)
    assert held_out_groups(examples, seed=1) != held_out_groups(examples)


@settings(max_examples=50, deadline=None)
@given(
    new=st.lists(
        st.tuples(st.sampled_from(INTENTS), st.text(min_size=1, max_size=12)),
        min_size=1,
        max_size=40,
    )
)
def test_adding_messages_never_moves_an_existing_one(new: list[tuple[str, str]]) -> None:
    # The held-out figures before and after a corpus grows are comparable only
    # if every existing utterance stays on its side of the split.
    examples = load_corpus("en")
    added = tuple(
        Example(text=f"new {k}", intent=intent, group=f"added-{group}-{k}", language="en")  # type: ignore[arg-type]
        for k, (intent, group) in enumerate(new)
    )
    before = held_out_groups(examples)
    after = held_out_groups(added + examples)
    assert after - {e.group for e in added} == before


def test_variants_are_deterministic_and_keep_the_group() -> None:
    assert variants("¿Cuánto debo?") == variants("¿Cuánto debo?")
    assert "cuanto debo" in {normalise(v) for v in variants("¿Cuánto debo?")}
    example = load_corpus("pt")[0]
    assert {e.group for e in augmented((example,))} == {example.group}
