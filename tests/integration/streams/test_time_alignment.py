"""The view + orchestrator processor reads its inputs time-aligned: the view
would be the same in any order, but a decision is taken on the view as it
stands, so an earlier opt-out or profile change on one input must be read
before a later trigger on another (quixstreams merges concatenated inputs by
message timestamp within a partition number)."""

from __future__ import annotations

from recaudo.settings import Settings
from streams.debtor_view import DebtorViewProcessor


def test_the_view_and_orchestrator_read_their_inputs_time_aligned(topics_ready: Settings) -> None:
    view = DebtorViewProcessor(topics_ready, orchestrate=True, timers=True)
    try:
        assert view.processor.app._dataframe_registry.requires_time_alignment
    finally:
        view.sink.close()
        view.processor.dead_letters.close()
