"""The strategy file's [[negotiation]] tables: parsed exactly, matched per
segment, refused with a message that says what to write."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from recaudo.orchestration.strategy import StrategyError, load_strategy, strategy_from_mapping

CADENCE: dict[str, Any] = {
    "id": "c",
    "trigger": "payment_missed",
    "champion": [{"channels": ["sms"], "template": "payment_missed"}],
}


def strategy(*tables: dict[str, Any]) -> Any:
    return strategy_from_mapping({"id": "s", "cadence": [CADENCE], "negotiation": list(tables)})


def test_the_default_strategy_bounds_every_segment() -> None:
    s = load_strategy()
    late = s.bounds_for("DPD_90_PLUS", None, "CO")
    assert late is not None and late.id == "write_off_risk"
    assert (late.max_settlement_discount_bp, late.min_first_payment_bp) == (3000, 1000)
    assert late.offer_expires_after == timedelta(hours=72)
    for bucket in ("CURRENT", "DPD_1_30", "DPD_31_60", "DPD_61_90"):
        assert s.bounds_for(bucket, None, None) is not None


def test_shares_are_basis_points_and_minimums_integer_minor_units() -> None:
    (b,) = strategy(
        {
            "id": "x",
            "max_instalments": 4,
            "min_first_payment_share": 0.125,
            "min_first_payment_minor": {"COP": 5_000_000},
            "min_promise_share": 0.5,
        }
    ).negotiation
    assert (b.min_first_payment_bp, b.min_promise_bp) == (1250, 5000)
    assert b.min_first_payment(1_000_000_001, "COP") == 125_000_001  # rounded up
    assert b.min_first_payment(1_000_000, "COP") == 1_000_000  # never above the total
    assert b.min_first_payment(10_000_000, "USD") == 1_250_000
    assert b.min_promise(3) == 2


def test_the_first_matching_table_wins() -> None:
    s = strategy(
        {"id": "co_late", "max_instalments": 12, "countries": ["CO"], "buckets": ["DPD_90_PLUS"]},
        {"id": "vip", "max_instalments": 6, "risks": ["low"]},
        {"id": "rest", "max_instalments": 2},
    )
    assert s.bounds_for("DPD_90_PLUS", "low", "CO").id == "co_late"
    assert s.bounds_for("DPD_90_PLUS", "low", "BR").id == "vip"
    assert s.bounds_for("DPD_1_30", None, "BR").id == "rest"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"id": "x"}, "missing 'max_instalments'"),
        ({"id": "x", "max_instalments": 0}, "max_instalments: expected a whole number >= 1"),
        ({"id": "x", "max_instalments": 3, "min_promise_share": 1.5}, "between 0 and 1"),
        ({"id": "x", "max_instalments": 3, "min_promise_share": 0.00001}, "basis points"),
        ({"id": "x", "max_instalments": 3, "frequency": "DAILY"}, "frequency: expected one of"),
        ({"id": "x", "max_instalments": 3, "countries": ["col"]}, "ISO-3166"),
        ({"id": "x", "max_instalments": 3, "min_first_payment_minor": {"XXX": 1}}, "unknown keys"),
        ({"id": "x", "max_instalments": 3, "discount": 0.2}, "unknown keys ['discount']"),
    ],
)
def test_a_bad_table_is_refused_with_what_to_write(table: dict[str, Any], message: str) -> None:
    with pytest.raises(StrategyError, match="negotiation\\[0\\]") as err:
        strategy(table)
    assert message in str(err.value)
