from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from recaudo.process.gc_tuning import THRESHOLDS, tune_for_streaming


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_collections_are_rarer() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    tune_for_streaming()
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0
