"""Context features from the debtor's 360-degree view, as Vowpal Wabbit
``--cb_explore_adf`` text: one ``shared |s ...`` line for the debtor and the
moment, then one ``|a ...`` line per allowed action.

Deterministic: the same view, instant and actions give the same text, byte
for byte (features in a fixed order, numbers rounded), so a logged decision
can be replayed and explained from its features alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from recaudo.contracts.records import CHANNELS, AccountView, Channel, DebtorView
from recaudo.learning.actions import Action
from recaudo.policy.model import as_utc
from recaudo.policy.quiet_hours import zone_for

#: balance bands, upper bounds in major units of the account's currency
BALANCE_BANDS: Final[tuple[int, ...]] = (100, 500, 2_000, 10_000, 50_000)
#: every ChannelView counter the learner reads, in this order
ENGAGEMENT: Final[tuple[str, ...]] = ("sent", "delivered", "read", "replied", "failed")
#: the suffix of each channel's smoothed reply rate among the shared features
REPLY_RATE: Final = "_reply_rate"
_UNSAFE = re.compile(r"[\s|:]+")

Value = str | float


@dataclass(frozen=True, slots=True)
class Features:
    """The shared context of one decision: names to values (a string is a
    categorical feature, a float a numeric one), in a fixed order."""

    shared: tuple[tuple[str, Value], ...]

    def as_dict(self) -> dict[str, Value]:
        return dict(self.shared)

    def shared_line(self) -> str:
        return "shared |s " + " ".join(_feature(k, v) for k, v in self.shared)


def _safe(text: str) -> str:
    # VW splits on spaces, '|' and ':'; anything else is a valid name.
    return _UNSAFE.sub("_", text) or "_"


def _feature(name: str, value: Value) -> str:
    if isinstance(value, str):
        return f"{_safe(name)}={_safe(value)}"
    return f"{_safe(name)}:{value:.4g}"


def _count(n: int) -> float:
    # Counts spread over orders of magnitude: log1p keeps one outlier from dominating.
    return round(math.log1p(max(n, 0)), 4)


def reply_rate(replied: int, sent: int) -> float:
    """A channel's reply rate smoothed towards 10 % (one reply in ten), so a
    channel never tried is neither the best nor the worst."""
    return round((max(replied, 0) + 0.2) / (max(sent, 0) + 2), 4)


def balance_band(balance_minor: int, minor_units: int = 2) -> str:
    major = balance_minor / 10**minor_units
    for i, bound in enumerate(BALANCE_BANDS):
        if major < bound:
            return f"b{i}"
    return f"b{len(BALANCE_BANDS)}"


def context_features(
    view: DebtorView,
    account_id: str | None,
    now: datetime,
    tried: Sequence[Channel] = (),
    *,
    debt_opened_at: datetime | None = None,
) -> Features:
    """The shared features of a decision about ``account_id`` (or the
    debtor's worst account) at ``now``; ``tried``: the channels already used
    in this run, in order."""
    now = as_utc(now, "now")
    account = _account(view, account_id)
    zone = zone_for(view.time_zone) if view.time_zone else None
    local = now.astimezone(zone) if zone is not None else now
    out: list[tuple[str, Value]] = [
        ("bucket", account.bucket if account is not None else view.bucket),
        ("dpd", round((account.days_past_due if account else view.max_days_past_due) / 30, 4)),
        ("balance", balance_band(account.balance_minor) if account is not None else "none"),
        ("risk", view.risk_segment or "unknown"),
        ("lang", view.language or "unknown"),
        ("country", view.country or "unknown"),
        ("age", _count(_age_days(now, debt_opened_at, account))),
        ("hour", f"h{local.hour:02d}"),
        ("weekday", f"d{local.weekday()}"),
        ("preferred", view.preferred_channel or "none"),
    ]
    promises = [p for p in view.promises if account is None or p.account_id == account.account_id]
    for status in ("PENDING", "KEPT", "BROKEN"):
        made = sum(p.status == status for p in promises)
        out.append((f"promises_{status.lower()}", _count(made)))
    out.append(("disputes", _count(len(view.disputes))))
    out.append(("dispute_open", "yes" if any(d.status == "OPEN" for d in view.disputes) else "no"))
    by_channel = {c.channel: c for c in view.channels}
    for channel in CHANNELS:
        cv = by_channel.get(channel)
        for counter in ENGAGEMENT:
            out.append((f"{channel}_{counter}", _count(getattr(cv, counter) if cv else 0)))
    for channel in CHANNELS:
        cv = by_channel.get(channel)
        replied, sent = (cv.replied, cv.sent) if cv else (0, 0)
        out.append((f"{channel}{REPLY_RATE}", reply_rate(replied, sent)))
    out.append(("tried_n", float(len(tried))))
    for channel in dict.fromkeys(tried):
        out.append((f"tried_{channel}", "yes"))
    if tried:
        out.append(("last_tried", tried[-1]))
    return Features(tuple(out))


#: the "no contact now" action's line: crossed with the context like any other,
#: so the model learns when not contacting is worth more than any contact
WAIT_LINE: Final = "|a act=wait"


def action_line(
    action: Action,
    tried: Sequence[Channel] = (),
    baseline: Action | None = None,
    rate: float | None = None,
) -> str:
    """One action's ``|a`` line: its parts and their pairs, whether its
    channel was already tried in this run, given the static strategy's
    choice ``baseline`` whether this is it (and its channel), and given its
    channel's reply ``rate`` that rate (one weight for every channel, so the
    debtor's own history ranks the actions from the first decision)."""
    ch, w, v = action.channel, _safe(action.window.name), _safe(action.variant)
    parts = [
        f"ch={ch}",
        f"win={w}",
        f"var={v}",
        f"ch_win={ch}_{w}",
        f"ch_var={ch}_{v}",
        f"retry={'yes' if ch in tried else 'no'}",
    ]
    if baseline is not None:
        parts.append(f"static={'yes' if action == baseline else 'no'}")
        parts.append(f"static_ch={'yes' if ch == baseline.channel else 'no'}")
    if rate is not None:
        parts.append(f"ch_reply_rate:{rate:.4g}")
    return "|a " + " ".join(parts)


def adf_example(
    features: Features,
    actions: Sequence[Action],
    tried: Sequence[Channel] = (),
    *,
    baseline: Action | None = None,
    wait: bool = False,
) -> list[str]:
    """The multi-line example VW predicts on: shared line, then one line per
    action (with its channel's reply rate when the shared features carry
    it), then the "no contact now" line when ``wait``."""
    shared = features.as_dict()
    lines = [features.shared_line()]
    for a in actions:
        rate = shared.get(f"{a.channel}{REPLY_RATE}")
        lines.append(action_line(a, tried, baseline, rate if isinstance(rate, float) else None))
    if wait:
        lines.append(WAIT_LINE)
    return lines


def labelled_example(
    features: Features,
    actions: Sequence[Action],
    chosen: int,
    cost: float,
    probability: float,
    tried: Sequence[Channel] = (),
    *,
    baseline: Action | None = None,
    wait: bool = False,
) -> list[str]:
    """The example VW learns from: the chosen action's line carries
    ``index:cost:probability`` (cost is the negative reward); with ``wait``
    the index ``len(actions)`` is the "no contact now" line."""
    options = len(actions) + (1 if wait else 0)
    if not 0 <= chosen < options:
        raise ValueError(f"chosen index {chosen} is not one of the {options} options")
    if not 0 < probability <= 1:
        raise ValueError(f"probability must be in (0, 1], got {probability}")
    lines = adf_example(features, actions, tried, baseline=baseline, wait=wait)
    lines[chosen + 1] = f"{chosen}:{cost:.6g}:{probability:.6g} {lines[chosen + 1]}"
    return lines


def _account(view: DebtorView, account_id: str | None) -> AccountView | None:
    if account_id is not None:
        for account in view.accounts:
            if account.account_id == account_id:
                return account
    return max(view.accounts, key=lambda a: (a.days_past_due, a.account_id), default=None)


def _age_days(now: datetime, opened: datetime | None, account: AccountView | None) -> int:
    # Without an opening date the days past due is the age the view can vouch for.
    if opened is not None:
        return max(0, (now - as_utc(opened, "debt_opened_at")).days)
    return account.days_past_due if account is not None else 0
