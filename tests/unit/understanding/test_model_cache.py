"""The model cache: a model is trained once per corpus and training code, later
processes load it; a changed corpus, a corrupt or untrusted file is rebuilt,
and processes starting at once build it once."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]

from recaudo.cli.main import cli
from recaudo.settings import reset_settings_cache
from recaudo.understanding import classifier, language
from recaudo.understanding.classifier import cached_model
from recaudo.understanding.corpus import Example, examples_digest
from recaudo.understanding.model_cache import ModelCache, cache_key, default_cache_dir
from recaudo.understanding.types import INTENTS
from tests.unit.understanding.fixtures import small_corpus

NAME = "intent-model"
MESSAGES = ["cuanto debo", "no me escriban mas", "pago el viernes"]


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the intent model's trainings."""
    calls: list[int] = []
    real = classifier.fit_pipeline

    def counting(rows: tuple[Example, ...], *, augment: bool) -> Pipeline:
        calls.append(len(rows))
        return real(rows, augment=augment)

    monkeypatch.setattr(classifier, "fit_pipeline", counting)
    return calls


def _predict(cache: ModelCache, examples: tuple[Example, ...]) -> list[str]:
    model = cached_model(examples, cache, NAME)
    return [p[0][0] for p in model.probabilities_many(MESSAGES, "es")]


def test_a_second_model_loads_what_the_first_built(tmp_path: Path, fits: list[int]) -> None:
    cache, corpus = ModelCache(tmp_path), small_corpus()
    first = _predict(cache, corpus)
    assert len(fits) == 1
    assert cache.path(NAME).is_file()
    assert _predict(cache, corpus) == first
    assert len(fits) == 1  # loaded, not trained


def test_a_changed_corpus_is_trained_again(tmp_path: Path, fits: list[int]) -> None:
    cache, corpus = ModelCache(tmp_path), small_corpus()
    _predict(cache, corpus)
    changed = (*corpus[:-1], replace(corpus[-1], text=corpus[-1].text + " ya"))
    _predict(cache, changed)
    assert len(fits) == 2
    key = cache_key(examples_digest(changed))
    assert cache.load(NAME, key, Pipeline) is not None


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _no_header(path: Path) -> None:
    path.write_bytes(b"\x80\x05garbage")


@pytest.mark.parametrize("damage", [_truncate, _flip_a_byte, _no_header])
def test_a_corrupt_file_is_rebuilt_not_loaded(
    tmp_path: Path,
    fits: list[int],
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], None],
) -> None:
    cache, corpus = ModelCache(tmp_path), small_corpus()
    first = _predict(cache, corpus)
    damage(cache.path(NAME))
    with caplog.at_level(logging.WARNING):
        assert _predict(cache, corpus) == first
    assert len(fits) == 2
    assert "corrupt" in caplog.text
    assert cache.load(NAME, cache_key(examples_digest(corpus)), Pipeline) is not None


def test_a_file_others_can_write_is_not_loaded(
    tmp_path: Path, fits: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    cache, corpus = ModelCache(tmp_path), small_corpus()
    _predict(cache, corpus)
    os.chmod(cache.path(NAME), 0o666)  # noqa: S103 (unsafe on purpose)
    with caplog.at_level(logging.WARNING):
        _predict(cache, corpus)
    assert len(fits) == 2
    assert "writable by other users" in caplog.text
    # The rebuilt file replaced it, with the cache's own permissions.
    assert os.stat(cache.path(NAME)).st_mode & 0o022 == 0


def test_a_directory_others_can_write_is_not_loaded_from(
    tmp_path: Path, fits: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    cache, corpus = ModelCache(tmp_path / "cache"), small_corpus()
    _predict(cache, corpus)
    os.chmod(cache.directory, 0o777)  # noqa: S103 (unsafe on purpose)
    with caplog.at_level(logging.WARNING):
        _predict(cache, corpus)
    assert len(fits) == 2
    assert "writable by other users" in caplog.text


def test_a_directory_that_cannot_be_written_still_gives_a_model(
    tmp_path: Path, fits: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with caplog.at_level(logging.WARNING):
        assert _predict(ModelCache(blocked / "cache"), small_corpus())
    assert len(fits) == 1
    assert "could not store" in caplog.text


def _build_in_a_process(
    directory: Path, barrier: multiprocessing.synchronize.Barrier, builds: Path
) -> None:
    corpus = small_corpus()

    def build() -> Pipeline:
        with builds.open("a") as out:
            out.write("built\n")
        return classifier.fit_pipeline(corpus, augment=True)

    barrier.wait()
    pipeline = ModelCache(directory).get(NAME, cache_key(examples_digest(corpus)), build, Pipeline)
    assert pipeline.predict(["xxes no me escriban mas"])[0] in INTENTS


def test_processes_starting_at_once_build_one_valid_file(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(3)
    builds = tmp_path / "builds.txt"
    cache_dir = tmp_path / "cache"
    processes = [
        context.Process(target=_build_in_a_process, args=(cache_dir, barrier, builds))
        for _ in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert builds.read_text() == "built\n"
    key = cache_key(examples_digest(small_corpus()))
    assert ModelCache(cache_dir).load(NAME, key, Pipeline) is not None
    assert not list(cache_dir.glob("*.tmp"))


def test_the_cache_directory_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAUDO_MODEL_CACHE_DIR", str(tmp_path / "models"))
    reset_settings_cache()
    try:
        assert default_cache_dir() == tmp_path / "models"
    finally:
        monkeypatch.delenv("RECAUDO_MODEL_CACHE_DIR")
        reset_settings_cache()
    assert default_cache_dir().parts[-2:] == ("recaudo", "understanding")


def test_build_model_writes_both_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "corpus_examples", small_corpus)
    monkeypatch.setattr(language, "corpus_examples", small_corpus)
    monkeypatch.setattr(classifier, "_model", None)
    monkeypatch.setattr(language, "_model", None)
    monkeypatch.setenv("RECAUDO_MODEL_CACHE_DIR", str(tmp_path))
    reset_settings_cache()
    try:
        result = CliRunner().invoke(cli, ["understand", "--build-model"])
    finally:
        monkeypatch.delenv("RECAUDO_MODEL_CACHE_DIR")
        reset_settings_cache()
    assert result.exit_code == 0, result.output
    assert result.output.split() == [
        str(tmp_path / "intent-model.pkl"),
        str(tmp_path / "language-model.pkl"),
    ]
