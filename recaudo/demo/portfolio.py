"""A synthetic, realistic collections portfolio: debtors in the supported
jurisdictions with their profiles and a month of debt events.

Seeded and deterministic (same seed, same portfolio, same event ids), so a
benchmark or a demo can be replayed and compared run to run.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from recaudo.contracts.records import Channel, DebtEvent, DebtorProfile

NAMESPACE = uuid.UUID("0c9a4e2e-3f5b-4f7e-8c1d-6b2a9e7d5f30")


@dataclass(frozen=True, slots=True)
class Market:
    jurisdiction: str
    country: str
    subdivision: str | None
    time_zones: tuple[str, ...]
    language: str
    currency: str
    phone_prefix: str
    #: Typical balance range in minor units.
    balance: tuple[int, int]
    weight: float


MARKETS: tuple[Market, ...] = (
    Market(
        "co_ley_2300",
        "CO",
        None,
        ("America/Bogota",),
        "es",
        "COP",
        "+573",
        (50_000_00, 15_000_000_00),
        0.25,
    ),
    Market(
        "mx_condusef",
        "MX",
        None,
        ("America/Mexico_City", "America/Monterrey", "America/Tijuana"),
        "es",
        "MXN",
        "+5255",
        (1_000_00, 150_000_00),
        0.20,
    ),
    Market(
        "br_sp", "BR", "SP", ("America/Sao_Paulo",), "pt", "BRL", "+5511", (300_00, 60_000_00), 0.20
    ),
    Market(
        "us_reg_f",
        "US",
        None,
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        "en",
        "USD",
        "+1312",
        (200_00, 25_000_00),
        0.15,
    ),
    Market(
        "cl_ley_19496",
        "CL",
        None,
        ("America/Santiago",),
        "es",
        "CLP",
        "+569",
        (50_000, 8_000_000),
        0.10,
    ),
    Market(
        "pe_ley_29571",
        "PE",
        None,
        ("America/Lima",),
        "es",
        "PEN",
        "+519",
        (500_00, 40_000_00),
        0.10,
    ),
)

PRODUCTS = ("card", "personal_loan", "auto", "microcredit", "mortgage")
RISK = ("low", "medium", "high")
CHANNELS: tuple[Channel, ...] = ("sms", "email", "whatsapp", "voice")


def event_id(*parts: object) -> uuid.UUID:
    """A stable event id from what the event is about (same portfolio, same ids)."""
    return uuid.uuid5(NAMESPACE, "/".join(map(str, parts)))


@dataclass(frozen=True, slots=True)
class Debtor:
    debtor_id: str
    market: Market
    time_zone: str
    persona: dict[str, Any]


def profile_of(debtor: Debtor, rng: random.Random, at: datetime) -> DebtorProfile:
    m = debtor.market
    phone = f"{m.phone_prefix}{rng.randrange(10**8, 10**9)}"
    email = f"{debtor.debtor_id.lower()}@example.{m.country.lower()}"
    points: list[dict[str, Any]] = []
    for channel in CHANNELS:
        if channel == "whatsapp" and m.country == "US":
            continue
        if rng.random() < 0.85:
            points.append(
                {
                    "channel": channel,
                    "address": email if channel == "email" else phone,
                    "consent": rng.random() < 0.92,
                    "valid": rng.random() < 0.97,
                }
            )
    preferred = max(debtor.persona["affinity"], key=debtor.persona["affinity"].get)
    return DebtorProfile(
        event_id=event_id(debtor.debtor_id, "profile"),
        occurred_at=at,
        source="crm",
        debtor_id=debtor.debtor_id,
        preferred_language=m.language,
        time_zone=debtor.time_zone,
        country=m.country,
        subdivision=m.subdivision,
        jurisdiction=m.jurisdiction,
        preferred_channel=preferred if rng.random() < 0.4 else None,
        risk_segment=rng.choice(RISK),
        contact_points=points,
        flags={
            "deceased": rng.random() < 0.002,
            "bankruptcy": rng.random() < 0.005,
            "cease_and_desist": rng.random() < 0.004,
            "vulnerable": rng.random() < 0.02,
        },
    )


def _persona(rng: random.Random) -> dict[str, Any]:
    weights = [rng.random() for _ in CHANNELS]
    total = sum(weights)
    return {
        "affinity": {c: round(w / total, 3) for c, w in zip(CHANNELS, weights, strict=True)},
        "best_hour": rng.choice((8, 10, 12, 13, 18, 19, 20)),
        "propensity_to_pay": round(rng.betavariate(2, 3), 3),
    }


def debtors(n: int, seed: int = 7) -> list[Debtor]:
    rng = random.Random(seed)
    weights = [m.weight for m in MARKETS]
    out = []
    for i in range(n):
        market = rng.choices(MARKETS, weights)[0]
        out.append(Debtor(f"D{i:07d}", market, rng.choice(market.time_zones), _persona(rng)))
    return out


def generate(
    n_debtors: int, start: datetime | None = None, days: int = 30, seed: int = 7
) -> Iterator[DebtorProfile | DebtEvent]:
    """Profiles first, then each debtor's debt events, in event-time order per debtor.

    Roughly a collections book: accounts opened months ago, a spread of days
    past due, instalments falling due and missed, some payments and promises,
    a few disputes, daily DPD snapshots for the overdue.
    """
    start = start or datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    rng = random.Random(seed + 1)
    book = debtors(n_debtors, seed)
    for debtor in book:
        yield profile_of(debtor, rng, start - timedelta(days=1))
    for debtor in book:
        yield from _debt_history(debtor, rng, start, days)


@dataclass(frozen=True, slots=True)
class AccountTerms:
    """One account as the book holds it on the first day: what it owes and how."""

    account_id: str
    debtor: Debtor
    product: str
    principal_minor: int
    balance_minor: int
    instalment_minor: int
    days_past_due: int
    due_day: int
    opened: datetime
    #: Pays its instalments on time, more or less, without being contacted.
    payer: bool
    next_instalment: int

    @property
    def currency(self) -> str:
        return self.debtor.market.currency


def accounts_of(debtor: Debtor, rng: random.Random, start: datetime) -> list[AccountTerms]:
    """The debtor's accounts: 1 to 3, with a spread of balances and days past due."""
    m = debtor.market
    out = []
    for a in range(rng.choices((1, 2, 3), (0.7, 0.22, 0.08))[0]):
        balance = rng.randrange(*m.balance)
        instalment = max(1, balance // rng.choice((6, 12, 24, 36)))
        dpd = rng.choices(
            (0, rng.randint(1, 30), rng.randint(31, 60), rng.randint(61, 90), rng.randint(91, 240)),
            (0.45, 0.25, 0.12, 0.08, 0.10),
        )[0]
        due_day = rng.randint(1, 28)
        opened = start - timedelta(days=rng.randint(90, 900))
        principal = balance + instalment * rng.randint(0, 12)
        product = rng.choice(PRODUCTS)
        payer = rng.random() < debtor.persona["propensity_to_pay"]
        out.append(
            AccountTerms(
                account_id=f"{debtor.debtor_id}-A{a}",
                debtor=debtor,
                product=product,
                principal_minor=principal,
                balance_minor=balance,
                instalment_minor=instalment,
                days_past_due=dpd,
                due_day=due_day,
                opened=opened,
                payer=payer,
                next_instalment=rng.randint(2, 20),
            )
        )
    return out


def opening_payload(terms: AccountTerms, start: datetime) -> dict[str, Any]:
    """DEBT_OPENED as the bank reports it (its first due date in the start's month)."""
    return {
        "principal_minor": terms.principal_minor,
        "currency": terms.currency,
        "balance_minor": terms.balance_minor,
        "product": terms.product,
        "days_past_due": 0,
        "instalment_minor": terms.instalment_minor,
        "next_due_date": date(start.year, start.month, terms.due_day),
    }


def _debt_history(
    debtor: Debtor, rng: random.Random, start: datetime, days: int
) -> Iterator[DebtEvent]:
    m = debtor.market
    for terms in accounts_of(debtor, rng, start):
        account = terms.account_id
        balance = terms.balance_minor
        instalment = terms.instalment_minor
        dpd = terms.days_past_due
        due_day = terms.due_day
        seq = itertools.count(1)

        def event(
            type_: str,
            at: datetime,
            payload: dict[str, Any],
            account: str = account,
            seq: Iterator[int] = seq,
        ) -> DebtEvent:
            return DebtEvent(
                event_id=event_id(account, next(seq)),
                occurred_at=at,
                source="core-banking",
                debtor_id=debtor.debtor_id,
                account_id=account,
                type=type_,
                payload=payload,
            )

        yield event("DEBT_OPENED", terms.opened, opening_payload(terms, start))
        if dpd:
            yield event(
                "DAYS_PAST_DUE_UPDATED",
                start,
                {"days_past_due": dpd, "balance_minor": balance, "currency": m.currency},
            )
        payer = terms.payer
        instalment_no = terms.next_instalment
        for day in range(days):
            now = start + timedelta(days=day, hours=rng.randint(0, 3))
            on = (start + timedelta(days=day)).date()
            if on.day == due_day:
                yield event(
                    "INSTALMENT_DUE",
                    now - timedelta(days=3),
                    {
                        "instalment_number": instalment_no,
                        "amount_minor": instalment,
                        "currency": m.currency,
                        "due_date": on,
                    },
                )
                if payer and rng.random() < 0.6:
                    yield event(
                        "PAYMENT_RECEIVED",
                        now,
                        {
                            "payment_id": f"{account}-P{instalment_no}",
                            "amount_minor": instalment,
                            "currency": m.currency,
                            "method": "transfer",
                        },
                    )
                else:
                    yield event(
                        "PAYMENT_MISSED",
                        now + timedelta(days=1),
                        {
                            "instalment_number": instalment_no,
                            "amount_minor": instalment,
                            "currency": m.currency,
                            "due_date": on,
                        },
                    )
                instalment_no += 1
            if dpd:
                dpd += 1
                yield event(
                    "DAYS_PAST_DUE_UPDATED",
                    now,
                    {"days_past_due": dpd, "balance_minor": balance, "currency": m.currency},
                )
            if dpd and rng.random() < 0.02:
                yield event(
                    "PROMISE_TO_PAY",
                    now,
                    {
                        "promise_id": f"{account}-PR{day}",
                        "amount_minor": instalment,
                        "currency": m.currency,
                        "promised_date": on + timedelta(days=7),
                    },
                )
            if dpd and rng.random() < 0.002:
                yield event(
                    "DISPUTE_OPENED",
                    now,
                    {"dispute_id": f"{account}-DS{day}", "reason": "amount not recognised"},
                )
