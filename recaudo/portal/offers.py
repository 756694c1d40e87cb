"""What the portal offers a debtor, and the events a choice becomes.

The offers come from the debtor's view and the segment's ``[[negotiation]]``
bounds through :mod:`recaudo.conversation.negotiation`, the same code that
prices a conversation's offers: a promise to pay what is owed by a date the
debtor picks (up to the latest the bounds allow), plans of a few lengths up to
the most instalments allowed, and a settlement for 90+ days past due. A choice
becomes the same ``PROMISE_TO_PAY`` / ``PAYMENT_PLAN_AGREED`` debt event as an
agreement in a conversation; opening a link is a ``CLICKED`` response for the
dispatch it came in. Every id is derived from the link, so a replay is the
same event and the view applies it once. Pure: no Kafka, no clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Final

from recaudo.contracts.records import (
    AccountView,
    ChannelResponse,
    DebtEvent,
    DebtorView,
)
from recaudo.conversation.negotiation import (
    Offer,
    agreement,
    latest_date,
    owed,
    plan_terms,
    promise_terms,
    settlement_terms,
    within_bounds,
)
from recaudo.orchestration.staleness import local_today
from recaudo.orchestration.strategy import NegotiationBounds, Strategy
from recaudo.portal.token import PortalToken
from recaudo.view.timebase import to_ms

SOURCE: Final = "recaudo.portal"
PORTAL_NAMESPACE: Final = uuid.UUID("0c6f2d8e-41a7-4b53-9e0a-5d2b7c8f1e36")
#: plan lengths put side by side (each capped by the bounds, repeats dropped)
PLAN_LENGTHS: Final = (2, 3, 6, 12)


class ChoiceRefused(ValueError):
    """A choice that cannot be honoured as asked; ``reason`` names why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AccountOffers:
    account: AccountView
    offers: tuple[Offer, ...]
    #: the promise's date range (the debtor picks a day in it); None: no promise
    promise_from: date | None = None
    promise_until: date | None = None


def _ref(token: PortalToken, what: str) -> str:
    name = f"{token.debtor_id}/{token.dispatch_id}/{what}"
    return f"portal-{uuid.uuid5(PORTAL_NAMESPACE, name).hex[:20]}"


def open_accounts(view: DebtorView, token: PortalToken) -> list[AccountView]:
    """The token's debtor's open accounts within its scope, most overdue first."""
    if view.debtor_id != token.debtor_id:
        raise ValueError("the view is not the token's debtor's")
    found = [
        a
        for a in view.accounts
        if a.status in ("OPEN", "CURED")
        and (not token.account_id or a.account_id == token.account_id)
    ]
    return sorted(found, key=lambda a: (-a.overdue_minor, -a.balance_minor, a.account_id))


def offers_for(
    view: DebtorView, strategy: Strategy, token: PortalToken, now: datetime
) -> list[AccountOffers]:
    """Every offer the bounds allow on the token's accounts, as of ``now``."""
    today = local_today(view, now)
    out = []
    for account in open_accounts(view, token):
        bounds = strategy.bounds_for(account.bucket, view.risk_segment, view.country)
        if bounds is None or owed(account) <= 0:
            out.append(AccountOffers(account, ()))
            continue
        out.append(_account_offers(account, bounds, token, today, now))
    return out


def _account_offers(
    account: AccountView,
    bounds: NegotiationBounds,
    token: PortalToken,
    today: date,
    now: datetime,
) -> AccountOffers:
    made = to_ms(now)
    offers: list[Offer] = []

    def add(kind: str, total: int, due: date, n: int = 1, each: int = 0, discount: int = 0) -> None:
        offer = Offer(
            offer_id=_ref(token, f"{account.account_id}/{kind}/{n}"),
            kind=kind,  # type: ignore[arg-type]
            account_id=account.account_id,
            currency=account.currency,
            total_minor=total,
            due=due,
            instalments=n,
            instalment_minor=each or total,
            frequency=bounds.frequency,
            discount_minor=discount,
            made_at=made,
            expires_at=token.expires_at,
        )
        if within_bounds(offer, account, bounds, today):
            offers.append(offer)

    value, _, _ = promise_terms(account, bounds, today, None, today)
    add("promise", value, today)
    seen: set[int] = set()
    for length in (*PLAN_LENGTHS, bounds.max_instalments):
        terms = plan_terms(account, bounds, today, length)
        if terms is not None and terms[0] > 1 and terms[0] not in seen:
            seen.add(terms[0])
            n, each, first = terms
            add("plan", account.overdue_minor, first, n, each)
    settlement = settlement_terms(account, bounds, today)
    if settlement is not None:
        amount, discount, by = settlement
        add("settlement", amount, by, discount=discount)
    offers.sort(key=lambda o: (o.kind != "promise", o.kind != "plan", o.instalments))
    has_promise = any(o.kind == "promise" for o in offers)
    return AccountOffers(
        account,
        tuple(offers),
        today if has_promise else None,
        latest_date(bounds, today) if has_promise else None,
    )


def chosen(
    view: DebtorView,
    strategy: Strategy,
    token: PortalToken,
    now: datetime,
    promise_date: date | None,
) -> Offer:
    """The offer a ``choose`` token names, as it stands now; a promise on the
    day the debtor picked. ChoiceRefused when it is no longer offered or the
    day is outside the bounds (nothing is moved silently)."""
    for group in offers_for(view, strategy, token, now):
        for offer in group.offers:
            if offer.offer_id != token.offer_id:
                continue
            if offer.kind != "promise":
                return offer
            if promise_date is None:
                raise ChoiceRefused("no_date")
            first, last = group.promise_from, group.promise_until
            if first is None or last is None or not first <= promise_date <= last:
                raise ChoiceRefused("date_out_of_bounds")
            return replace(offer, due=promise_date)
    raise ChoiceRefused("offer_gone")


def choice_event_id(token: PortalToken) -> uuid.UUID:
    """One per link: whatever is chosen, and however often, the view applies one."""
    return uuid.uuid5(PORTAL_NAMESPACE, f"{token.debtor_id}/{token.dispatch_id}/choice")


def choice_event(token: PortalToken, offer: Offer, now: datetime) -> DebtEvent:
    """The debt event a choice is, as a conversation's agreement would be."""
    kind, payload = agreement(offer, token.channel, token.dispatch_id)
    return DebtEvent(
        event_id=choice_event_id(token),
        occurred_at=now,
        source=SOURCE,
        debtor_id=token.debtor_id,
        account_id=offer.account_id,
        type=kind,
        payload=payload,
    )


def clicked(token: PortalToken, now: datetime) -> ChannelResponse:
    """The link was opened: one CLICKED per link, however often it is opened."""
    return ChannelResponse(
        event_id=uuid.uuid5(PORTAL_NAMESPACE, f"{token.debtor_id}/{token.dispatch_id}/clicked"),
        occurred_at=now,
        source=SOURCE,
        debtor_id=token.debtor_id,
        dispatch_id=token.dispatch_id,
        channel=token.channel,
        status="CLICKED",
        provider=SOURCE,
    )
