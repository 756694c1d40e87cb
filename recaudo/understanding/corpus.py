"""The labelled corpus the intent classifier learns from: hand-written debtor
messages per language (``corpus/{es,pt,en}.jsonl``), their deterministic noisy
variants, and the fixed split into training and held-out groups.

Each line is ``{"text", "intent", "group"}``; ``group`` names one hand-written
source utterance, and every variant derived from it shares that group, so a
held-out utterance is never seen in training in any spelling.
"""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from recaudo.understanding.types import INTENTS, Intent, Language

CORPUS_DIR = Path(__file__).parent / "corpus"

#: The seed of the held-out split; changing it changes every published figure.
SPLIT_SEED = 2026
#: Share of the source utterances held out for evaluation (by a hash of the group name).
HELD_OUT_SHARE = 0.2


class CorpusError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: Intent
    group: str
    language: Language


def corpus_path(language: Language) -> Path:
    return CORPUS_DIR / f"{language}.jsonl"


@cache
def load_corpus(language: Language) -> tuple[Example, ...]:
    """The hand-written source utterances of one language, in file order."""
    path = corpus_path(language)
    examples: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        intent = row.get("intent")
        if intent not in INTENTS:
            raise CorpusError(
                f"{path}:{number}: intent {intent!r} is not one of {', '.join(INTENTS)}"
            )
        text, group = row.get("text"), row.get("group")
        if not isinstance(text, str) or not text.strip() or not isinstance(group, str):
            raise CorpusError(f"{path}:{number}: needs a non-empty 'text' and a 'group'")
        examples.append(Example(text=text, intent=intent, group=group, language=language))
    return tuple(examples)


def examples_digest(examples: tuple[Example, ...]) -> str:
    """A digest of exactly these examples, in order: names a model trained on them."""
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.language, e.intent, e.group, e.text]).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def is_held_out(group: str, seed: int = SPLIT_SEED) -> bool:
    """Whether a source utterance is held out: a seeded hash of its group name
    alone, so adding or changing other messages never moves it."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < HELD_OUT_SHARE * 2**64


def held_out_groups(examples: tuple[Example, ...], seed: int = SPLIT_SEED) -> frozenset[str]:
    """The groups held out for evaluation (about ``HELD_OUT_SHARE`` of them)."""
    return frozenset(e.group for e in examples if is_held_out(e.group, seed))


def split(
    examples: tuple[Example, ...], seed: int = SPLIT_SEED
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """(train, held-out), by source group."""
    held = held_out_groups(examples, seed)
    train = tuple(e for e in examples if e.group not in held)
    test = tuple(e for e in examples if e.group in held)
    return train, test


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_EMOJI = ("🙏", "😡", "👍", "😅", "🤔", "😢")


def variants(text: str) -> tuple[str, ...]:
    """Noisy spellings of one utterance as debtors type them: no accents, all
    lower or upper case, no punctuation, one swapped pair of letters, one
    dropped letter, a trailing emoji. Deterministic (seeded by the text)."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())  # noqa: S311 (not a secret)
    out: list[str] = [strip_accents(text), text.lower(), text.upper()]
    out.append("".join(c for c in text if c.isalnum() or c.isspace() or ord(c) > 0x2000))
    letters = [i for i in range(len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    if letters:
        i = rng.choice(letters)
        out.append(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
        j = rng.choice(letters)
        out.append(text[:j] + text[j + 1 :])
    out.append(f"{text} {rng.choice(_EMOJI)}")
    seen = {text}
    unique: list[str] = []
    for variant in out:
        if variant.strip() and variant not in seen:
            seen.add(variant)
            unique.append(variant)
    return tuple(unique)


def augmented(examples: tuple[Example, ...]) -> tuple[Example, ...]:
    """Every example followed by its noisy variants (same intent, same group)."""
    out: list[Example] = []
    for example in examples:
        out.append(example)
        out.extend(
            Example(text=v, intent=example.intent, group=example.group, language=example.language)
            for v in variants(example.text)
        )
    return tuple(out)
