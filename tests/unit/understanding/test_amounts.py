"""Amounts in the debtor's currency and local notation, and instalment counts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.contracts.money import MINOR_UNITS
from recaudo.understanding.amounts import extract_amounts, extract_instalments
from recaudo.understanding.types import Amount, Language


@pytest.mark.parametrize(
    ("language", "currency", "text", "expected"),
    [
        ("es", "COP", "te pago 200 mil el viernes", Amount(minor=20_000_000, currency="COP")),
        ("es", "COP", "$1.500.000 a fin de mes", Amount(minor=150_000_000, currency="COP")),
        ("es", "MXN", "puedo dar 1,500.50 pesos", Amount(minor=150_050, currency="MXN")),
        ("es", "CLP", "solo tengo 20 lucas", Amount(minor=20_000, currency="CLP")),
        ("es", "CLP", "pago $15.990", Amount(minor=15_990, currency="CLP")),
        ("es", "ARS", "pago 2 millones", Amount(minor=200_000_000, currency="ARS")),
        ("es", "PEN", "pago 300 soles", Amount(minor=30_000, currency="PEN")),
        ("es", "COP", "puedo pagar 50 USD", Amount(minor=5_000, currency="USD")),
        ("es", "COP", "pago la mitad", Amount(fraction=0.5)),
        ("es", "COP", "tengo 150", Amount(minor=15_000, currency="COP")),
        ("pt", "BRL", "pago R$ 150,00 sexta", Amount(minor=15_000, currency="BRL")),
        ("pt", "BRL", "consigo 1.200,50", Amount(minor=120_050, currency="BRL")),
        ("pt", "BRL", "só tenho 50 conto", Amount(minor=5_000, currency="BRL")),
        ("pt", "BRL", "pago metade", Amount(fraction=0.5)),
        ("pt", "BRL", "pago 200 reais", Amount(minor=20_000, currency="BRL")),
        ("en", "USD", "I can pay 1,500.50", Amount(minor=150_050, currency="USD")),
        ("en", "USD", "I'll pay $200 friday", Amount(minor=20_000, currency="USD")),
        ("en", "USD", "only got 40 bucks", Amount(minor=4_000, currency="USD")),
        ("en", "USD", "half now", Amount(fraction=0.5)),
        ("en", "USD", "I can pay 25%", Amount(fraction=0.25)),
        ("en", "USD", "5k next month", Amount(minor=500_000, currency="USD")),
    ],
)
def test_amounts_in_local_notation(
    language: Language, currency: str, text: str, expected: Amount
) -> None:
    assert extract_amounts(text, language, currency=currency) == [expected]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "pago el 15"),
        ("es", "en 3 cuotas"),
        ("es", "el 15/12"),
        ("pt", "dia 15"),
        ("pt", "em 4 parcelas"),
        ("en", "in 6 payments"),
        ("en", "on the 30th"),
    ],
)
def test_days_and_counts_are_not_amounts(language: Language, text: str) -> None:
    assert extract_amounts(text, language, currency="USD") == []


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("quiero pagar en 3 cuotas", 3),
        ("me lo dividen en seis pagos", 6),
        ("posso pagar em 4 parcelas", 4),
        ("parcela em 10x?", 10),
        ("em duas vezes", 2),
        ("can I do it in 6 payments", 6),
        ("twelve installments", 12),
        ("cuánto debo", None),
        ("pago el 15", None),
    ],
)
def test_instalment_counts(text: str, count: int | None) -> None:
    assert extract_instalments(text) == count


def _written(minor: int, currency: str, language: Language, symbol: str) -> str:
    """``minor`` as a debtor writes it: thousands grouped, decimals only when
    the currency has them, in the language's notation."""
    exponent = MINOR_UNITS[currency]
    whole, cents = divmod(minor, 10**exponent) if exponent else (minor, 0)
    thousands, decimal = (",", ".") if language == "en" else (".", ",")
    grouped = f"{whole:,}".replace(",", thousands)
    figure = f"{grouped}{decimal}{cents:0{exponent}d}" if exponent else grouped
    return f"{symbol}{figure}"


@given(
    minor=st.integers(min_value=1, max_value=10**11),
    currency=st.sampled_from(["COP", "BRL", "USD", "MXN", "CLP", "PEN", "ARS"]),
    language=st.sampled_from(["es", "pt", "en"]),
    symbol=st.sampled_from(["$", "$ "]),
    before=st.sampled_from(["pago ", "I'll pay ", "consigo pagar ", ""]),
    after=st.sampled_from([" el viernes", " amanhã", "", " next week", " 🙏"]),
)
def test_amounts_written_in_local_notation_round_trip(
    minor: int, currency: str, language: Language, symbol: str, before: str, after: str
) -> None:
    written = _written(minor, currency, language, symbol)
    text = f"{before}{written}{after}"
    assert extract_amounts(text, language, currency=currency) == [
        Amount(minor=minor, currency=currency)
    ]


@given(thousands=st.integers(min_value=1, max_value=999), currency=st.sampled_from(["COP", "CLP"]))
def test_mil_multiplies_by_a_thousand(thousands: int, currency: str) -> None:
    exponent = MINOR_UNITS[currency]
    found = extract_amounts(f"puedo dar {thousands} mil", "es", currency=currency)
    assert found == [Amount(minor=thousands * 1000 * 10**exponent, currency=currency)]
