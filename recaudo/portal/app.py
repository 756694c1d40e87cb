"""The portal's requests, without HTTP: a link opened, an offer chosen.

Opening a valid link shows the token's debtor's accounts and offers (nothing
of anyone else: the view read is the token's debtor's, and every offer's form
carries a ``choose`` token of that debtor and link) and publishes a CLICKED
response for the dispatch the link came in. Choosing records the link's one
choice and publishes its debt event together; a replay, a second choice on
the same link, an expired, tampered or wrong-purpose token gets a page that
says so and changes nothing. Logs name a link by a hash, never a debtor.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol
from urllib.parse import parse_qs

from recaudo.contracts.money import format_money
from recaudo.contracts.records import ChannelResponse, DebtEvent, DebtorView
from recaudo.orchestration.strategy import Strategy
from recaudo.orchestration.templates import language_of
from recaudo.portal import offers as offer_rules
from recaudo.portal.pages import message_page, portal_page
from recaudo.portal.store import Choice, ChoiceNotPublished
from recaudo.portal.texts import language_from
from recaudo.portal.token import Keys, PortalToken, TokenRefused, mint, verify
from recaudo.view.timebase import to_ms

log = logging.getLogger(__name__)

#: A form is a token and a date: anything bigger is not one of ours.
MAX_FORM_BYTES = 4096
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


class Store(Protocol):
    def view(self, debtor_id: str, now: datetime) -> DebtorView | None: ...
    def choice(self, link_id: str) -> Choice | None: ...
    def record(
        self, link_id: str, event: DebtEvent, publish: Callable[[DebtEvent], bool]
    ) -> Choice | None: ...


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    body: bytes


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Portal:
    strategy: Strategy
    keys: Keys
    store: Store
    publish: Callable[[Sequence[DebtEvent | ChannelResponse]], bool]
    #: the bank's payment page, {account_id} {amount_minor} {currency} filled in
    payment_url: str | None = None
    clock: Callable[[], datetime] = _wall_clock
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.payment_url is not None:
            try:
                self.payment_url.format(account_id="A", amount_minor=1, currency="USD")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"RECAUDO_PORTAL_PAYMENT_URL: only {{account_id}}, {{amount_minor}} and "
                    f"{{currency}} can be filled in ({exc!r}); double any other brace"
                ) from None

    def snapshot_counts(self) -> list[tuple[str, int]]:
        """Requests by outcome so far (for ``/metrics``)."""
        with self._lock:
            return sorted(self.counts.items())

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _refused(self, refusal: TokenRefused, lang: str) -> Page:
        self._count(f"refused_{refusal.reason}")
        outcome = "expired" if refusal.reason == "expired" else "invalid"
        return Page(*message_page(lang, outcome))

    def open(self, text: str, accept_language: str | None) -> Page:
        """GET of a link: the debtor's page (and a CLICKED), or why not."""
        now = self.clock()
        lang = language_from(accept_language)
        try:
            token = verify(text, self.keys, "open", to_ms(now))
        except TokenRefused as refusal:
            return self._refused(refusal, lang)
        view = self.store.view(token.debtor_id, now)
        if view is None:
            self._count("no_view")
            return Page(*message_page(lang, "nothing"))
        lang = language_of(view.language)
        earlier = self.store.choice(token.link_id)
        if earlier is not None:
            self._count("reopened_after_choice")
            return Page(*message_page(lang, "used", when=earlier.chosen_at.date().isoformat()))
        if not self.publish([offer_rules.clicked(token, now)]):
            # The page still serves the debtor; the click is engagement, not money.
            log.warning("portal link %s: CLICKED not acknowledged", token.link_id[:12])
        groups = offer_rules.offers_for(view, self.strategy, token, now)
        if not groups:
            self._count("no_account")
            return Page(*message_page(lang, "nothing"))
        tokens = {
            offer.offer_id: mint(self._choose_token(token, offer.offer_id), self.keys)
            for group in groups
            for offer in group.offers
        }
        pay = {}
        if self.payment_url is not None:
            for group in groups:
                a = group.account
                pay[a.account_id] = self.payment_url.format(
                    account_id=a.account_id,
                    amount_minor=a.overdue_minor or a.balance_minor,
                    currency=a.currency,
                )
        self._count("opened")
        return Page(200, portal_page(lang, groups, tokens, "../choose", pay))

    @staticmethod
    def _choose_token(link: PortalToken, offer_id: str) -> PortalToken:
        return PortalToken(
            debtor_id=link.debtor_id,
            dispatch_id=link.dispatch_id,
            channel=link.channel,
            purpose="choose",
            expires_at=link.expires_at,
            account_id=link.account_id,
            offer_id=offer_id,
        )

    def choose(self, form: bytes, accept_language: str | None) -> Page:
        """POST of an offer's form: the choice recorded and published once."""
        now = self.clock()
        lang = language_from(accept_language)
        try:
            fields = parse_qs(form.decode("utf-8", "replace"), max_num_fields=4)
            token = verify(fields.get("t", [""])[0], self.keys, "choose", to_ms(now))
        except TokenRefused as refusal:
            return self._refused(refusal, lang)
        except ValueError:  # more fields than a token and a date
            return self._refused(TokenRefused("malformed"), lang)
        view = self.store.view(token.debtor_id, now)
        if view is None:
            self._count("no_view")
            return Page(*message_page(lang, "nothing"))
        lang = language_of(view.language)
        earlier = self.store.choice(token.link_id)
        if earlier is not None:
            self._count("replayed")
            return Page(*message_page(lang, "used", when=earlier.chosen_at.date().isoformat()))
        picked: date | None = None
        try:
            picked = date.fromisoformat(fields.get("date", [""])[0])
        except ValueError:
            picked = None
        try:
            offer = offer_rules.chosen(view, self.strategy, token, now, picked)
        except offer_rules.ChoiceRefused as refused:
            self._count(f"refused_{refused.reason}")
            if refused.reason == "offer_gone":
                return Page(*message_page(lang, "gone"))
            return self._date_page(view, token, now, lang)
        event = offer_rules.choice_event(token, offer, now)
        try:
            earlier = self.store.record(token.link_id, event, lambda e: self.publish([e]))
        except ChoiceNotPublished:
            log.error("portal link %s: choice not acknowledged, not recorded", token.link_id[:12])
            self._count("not_published")
            return Page(*message_page(lang, "busy"))
        if earlier is not None:
            self._count("replayed")
            return Page(*message_page(lang, "used", when=earlier.chosen_at.date().isoformat()))
        self._count(f"chosen_{offer.kind}")
        log.info("portal link %s: %s chosen", token.link_id[:12], offer.kind)
        money = offer.currency
        return Page(
            *message_page(
                lang,
                "done",
                kind="plan" if offer.kind == "plan" else "promise",
                amount=format_money(offer.total_minor, money),
                due=offer.due.isoformat(),
                instalments=str(offer.instalments),
                instalment=format_money(offer.instalment_minor, money),
                first=offer.due.isoformat(),
            )
        )

    def _date_page(self, view: DebtorView, token: PortalToken, now: datetime, lang: str) -> Page:
        for group in offer_rules.offers_for(view, self.strategy, token, now):
            if group.promise_from is not None and group.promise_until is not None:
                return Page(
                    *message_page(
                        lang,
                        "date",
                        since=group.promise_from.isoformat(),
                        until=group.promise_until.isoformat(),
                    )
                )
        return Page(*message_page(lang, "gone"))
