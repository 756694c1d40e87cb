"""The view processor reads its concatenated inputs as they arrive: quixstreams'
time alignment (a buffer per partition, a batch read that waits out the poll
timeout) is for windows and joins, and the view is the same in any order."""

from __future__ import annotations

from typing import Any

import pytest

from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor
from streams.runtime import StreamProcessor


def built(settings: Settings) -> tuple[StreamProcessor, Any]:
    """A processor with two concatenated inputs, as the view has (never run)."""
    processor = StreamProcessor(settings, "order")
    app = processor.app
    frames = [app.dataframe(processor.topic(key)) for key in ("debt-events", "debtor-profiles")]
    frames[0].concat(frames[1])
    return processor, app._dataframe_registry


def test_concatenated_inputs_can_be_read_in_arrival_order(topics_ready: Settings) -> None:
    processor, registry = built(topics_ready)
    assert registry.requires_time_alignment  # what concat asks of quixstreams
    processor.read_in_arrival_order()
    assert not registry.requires_time_alignment


def test_the_view_reads_its_inputs_in_arrival_order(topics_ready: Settings) -> None:
    view = DebtorViewProcessor(topics_ready, orchestrate=True, timers=True)
    try:
        assert not view.processor.app._dataframe_registry.requires_time_alignment
    finally:
        view.sink.close()


def test_a_quixstreams_without_the_switch_is_named(
    topics_ready: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor, registry = built(topics_ready)
    monkeypatch.delattr(registry, "_requires_time_alignment")
    with pytest.raises(RuntimeError, match="read_in_arrival_order needs updating"):
        processor.read_in_arrival_order()
