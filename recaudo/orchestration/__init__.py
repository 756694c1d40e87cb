"""Contact orchestration as pure logic: strategies, channel choice, templates,
per-debtor orchestration state and the :class:`Orchestrator` that turns what
happened into dispatches and audited decisions. No Kafka; the stream processor
(:mod:`streams.debtor_view`) runs it beside the view.

    orch = Orchestrator(load_strategy(), Templates.load())
    outputs = orch.handle(orch_state, view_state, now, event, derived)
"""

from recaudo.orchestration.channel_choice import ChannelChooser, EngagementChooser
from recaudo.orchestration.clock import Clock, FixedClock, ScaledClock, WallClock
from recaudo.orchestration.engine import Orchestrator, Outputs
from recaudo.orchestration.ids import dispatch_id
from recaudo.orchestration.state import OrchestrationState
from recaudo.orchestration.strategy import (
    Cadence,
    Step,
    Strategy,
    StrategyError,
    arm_for,
    load_strategy,
    strategy_from_mapping,
)
from recaudo.orchestration.templates import TemplateError, Templates

__all__ = [
    "Cadence",
    "ChannelChooser",
    "Clock",
    "EngagementChooser",
    "FixedClock",
    "OrchestrationState",
    "Orchestrator",
    "Outputs",
    "ScaledClock",
    "Step",
    "Strategy",
    "StrategyError",
    "TemplateError",
    "Templates",
    "WallClock",
    "arm_for",
    "dispatch_id",
    "load_strategy",
    "strategy_from_mapping",
]
