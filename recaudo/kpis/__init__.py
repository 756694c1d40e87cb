"""Collection KPIs as pure logic: counters and rates, per-debtor attribution,
per-member windows. The stream processor (``streams/kpis.py``) wires them to
Kafka and Postgres; nothing here touches either."""

from recaudo.kpis.attribution import (
    ALL_MEMBER,
    DIMENSIONS,
    Attribution,
    DebtorKpiState,
    Dimension,
    Touch,
    observe,
)
from recaudo.kpis.conversations import Reader
from recaudo.kpis.counters import COUNTER_NAMES, MAP_NAMES, Counters, Rates, ratio
from recaudo.kpis.windows import (
    WINDOW_MS,
    Contribution,
    KpiRow,
    Period,
    aggregate,
    contributions,
    member_key,
    window_start,
)

__all__ = [
    "ALL_MEMBER",
    "COUNTER_NAMES",
    "DIMENSIONS",
    "MAP_NAMES",
    "WINDOW_MS",
    "Attribution",
    "Contribution",
    "Counters",
    "DebtorKpiState",
    "Dimension",
    "KpiRow",
    "Period",
    "Rates",
    "Reader",
    "Touch",
    "aggregate",
    "contributions",
    "member_key",
    "observe",
    "ratio",
    "window_start",
]
