"""The baselines' debtor view: a plain dict per debtor, JSON in, nothing checked.

Both naive baselines (quixstreams and faust-streaming) fold with this one
function, so they differ only in the framework around it.
"""

from __future__ import annotations

from typing import Any

#: Recent event ids kept to skip redeliveries (the naive way: a bounded list).
SEEN = 256


def empty_view() -> dict[str, Any]:
    return {"accounts": {}, "seen": [], "version": 0}


def fold(view: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    if event["event_id"] in view["seen"]:
        return view
    account = view["accounts"].setdefault(
        event["account_id"], {"balance": 0, "dpd": 0, "overdue": 0}
    )
    payload, kind = event["payload"], event["type"]
    if kind == "DEBT_OPENED":
        account["balance"] = payload["balance_minor"]
    elif kind == "DAYS_PAST_DUE_UPDATED":
        account["dpd"] = payload["days_past_due"]
        account["balance"] = payload["balance_minor"]
    elif kind == "PAYMENT_MISSED":
        account["overdue"] += payload["amount_minor"]
    elif kind == "PAYMENT_RECEIVED":
        account["balance"] -= payload["amount_minor"]
        account["overdue"] = max(0, account["overdue"] - payload["amount_minor"])
    view["seen"] = [*view["seen"][-(SEEN - 1) :], event["event_id"]]
    view["version"] += 1
    return view
