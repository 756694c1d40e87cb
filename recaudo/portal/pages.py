"""The portal's HTML: Jinja with autoescape on, in the debtor's language, no
JavaScript (plain forms), from what :mod:`recaudo.portal.offers` computed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

import jinja2

from recaudo.contracts.money import format_money
from recaudo.conversation.negotiation import Offer
from recaudo.portal.offers import AccountOffers
from recaudo.portal.texts import TEXTS

#: The outcomes a message page can show, with their HTTP status.
OUTCOMES: Final[Mapping[str, int]] = {
    "done": 200,
    "used": 409,
    "expired": 410,
    "invalid": 400,
    "gone": 409,
    "date": 422,
    "nothing": 404,
    "busy": 503,
}


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("recaudo.portal", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


@dataclass(frozen=True, slots=True)
class ShownOffer:
    kind: str
    token: str
    text: str
    button: str
    date_label: str = ""
    since: str = ""
    until: str = ""


def account_ref(account_id: str) -> str:
    """The account as the page names it: its last four characters only."""
    return "****" + account_id[-4:]


def offer_text(offer: Offer, lang: str) -> str:
    t = TEXTS[lang]
    money = offer.currency
    if offer.kind == "promise":
        return t["promise"].format(amount=format_money(offer.total_minor, money))
    if offer.kind == "plan":
        text = t["plan"].format(
            instalments=offer.instalments,
            frequency=t[offer.frequency],
            instalment=format_money(offer.instalment_minor, money),
            first=offer.due.isoformat(),
        )
        if offer.last_instalment_minor != offer.instalment_minor:
            last = format_money(offer.last_instalment_minor, money)
            text += "; " + t["plan_last"].format(last=last)
        return text
    return t["settlement"].format(
        amount=format_money(offer.total_minor, money),
        due=offer.due.isoformat(),
        discount=format_money(offer.discount_minor, money),
    )


def portal_page(
    lang: str,
    groups: Sequence[AccountOffers],
    tokens: Mapping[str, str],
    choose_url: str,
    pay_urls: Mapping[str, str],
) -> bytes:
    """The debtor's page: per account its figures, its offers (``tokens``:
    the choose token of each offer id) and the bank's payment link."""
    t = TEXTS[lang]
    accounts = []
    for group in groups:
        a = group.account
        shown = []
        for offer in group.offers:
            kind = offer.kind
            extra = {}
            if kind == "promise" and group.promise_until is not None:
                extra = {
                    "date_label": t["promise_date"].format(until=group.promise_until.isoformat()),
                    "since": str(group.promise_from),
                    "until": group.promise_until.isoformat(),
                }
            shown.append(
                ShownOffer(
                    kind,
                    tokens[offer.offer_id],
                    offer_text(offer, lang),
                    t[f"{kind}_button"],
                    **extra,
                )
            )
        accounts.append(
            {
                "ref": account_ref(a.account_id),
                "product": a.product or "",
                "balance": format_money(a.balance_minor, a.currency),
                "overdue": format_money(a.overdue_minor, a.currency),
                "days_past_due": a.days_past_due,
                "offers": shown,
                "pay_url": pay_urls.get(a.account_id, ""),
            }
        )
    page = _env().get_template("portal.html")
    return page.render(
        lang=lang, title=t["title"], t=t, accounts=accounts, choose_url=choose_url
    ).encode()


def message_page(lang: str, outcome: str, **values: str) -> tuple[int, bytes]:
    """(status, page) of an outcome: a confirmation or why nothing changed."""
    t = TEXTS[lang]
    key = outcome if outcome != "done" else f"done_{values.pop('kind')}"
    title = t[f"{outcome}_title"]
    page = _env().get_template("message.html")
    body = page.render(lang=lang, title=title, text=t[key].format(**values), outcome=outcome)
    return OUTCOMES[outcome], body.encode()
