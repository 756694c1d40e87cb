"""Amounts and instalment counts a debtor names, in local notation: "200 mil",
"R$ 150,00", "$1.500.000", "1,500.50", "20 lucas", "half", "la mitad",
"metade", "en 3 cuotas", "em 4 parcelas", "in 6 payments", "10x"."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from recaudo.contracts.money import MINOR_UNITS
from recaudo.understanding.corpus import strip_accents
from recaudo.understanding.types import Amount, Language

_NUM = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"

# Symbols and words naming a currency other than the debtor's own.
_FOREIGN: dict[str, str] = {
    "r$": "BRL", "reais": "BRL", "real": "BRL", "us$": "USD", "u$s": "USD", "usd": "USD",
    "dolares": "USD", "dolar": "USD", "€": "EUR", "eur": "EUR", "euros": "EUR",
}  # fmt: skip
# Words and symbols for "the debtor's own currency" (or a multiple of it).
_LOCAL = (
    r"\$|pesos?|soles?|reales|bucks|dollars?|pila|conto|contos|mangos|lucas?|palos?|"
    r"mil|k|millones|millon|milhoes|milhao|million|millions|mm|m"
)
_MULTIPLIER: dict[str, int] = {
    "mil": 1_000, "k": 1_000, "luca": 1_000, "lucas": 1_000, "palo": 1_000_000,
    "palos": 1_000_000, "millon": 1_000_000, "millones": 1_000_000, "milhao": 1_000_000,
    "milhoes": 1_000_000, "million": 1_000_000, "millions": 1_000_000, "mm": 1_000_000,
    "m": 1_000_000,
}  # fmt: skip

# ISO codes debtors write next to a figure; not every code (ALL, TOP, TRY are words).
_CODES = "usd|eur|cop|mxn|ars|clp|pen|brl|uyu|pyg|gbp|cad"
_PREFIX = r"(?P<pre>r\$|us\$|u\$s|\$|€|" + _CODES + r")\s?"
_SUFFIX = (
    r"\s?(?P<suf>(?:mil|k|millones|millon|milhoes|milhao|million|millions|mm|m|lucas?|palos?)"
    r"(?:\s+(?:de\s+)?(?:pesos?|reais|soles?|dolares|dollars?))?|"
    r"reais|real|pesos?|soles?|dolares|dolar|dollars?|bucks|pila|contos?|mangos|euros?|"
    + _CODES
    + r")\b"
)
_AMOUNT = re.compile(
    r"(?<![\w/])(?:"
    + _PREFIX
    + r"(?P<n1>"
    + _NUM
    + r")(?:"
    + _SUFFIX.replace("?P<suf>", "?P<suf1>")
    + r")?|(?P<n2>"
    + _NUM
    + r")"
    + _SUFFIX
    + r")(?![\w/])"
)
# A bare number right after a verb of paying or having: "pago 200", "tengo 150".
_BARE = re.compile(
    r"\b(?:pago|pagar|pagaria|abono|abonar|doy|dar|tengo|deposito|transfiero|mando|"
    r"pagamos|pago|consigo|posso|tenho|dou|pay|paying|send|have|got|deposit|only)\s+"
    r"(?:(?:solo|so|only|unos|uns|like|about)\s+)?(?P<n>" + _NUM + r")(?![\w/%]|\s*(?:x\b|cuotas|"
    r"parcelas|pagos|payments|installments|instalments|dias|days|meses|months|vezes|de\s))"
)
_FRACTIONS: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"\b(la mitad|mitad|a metade|metade|half|50 ?%|50 por ciento)\b"), 0.5),
    (re.compile(r"\b(un tercio|um terco|a third|one third)\b"), 1 / 3),
    (re.compile(r"\b(un cuarto de|a quarter of|um quarto)\b"), 0.25),
    (re.compile(r"\b(?:el |o )?(\d{1,2}) ?%"), -1.0),
)

_COUNT_WORDS: dict[str, int] = {
    "dos": 2, "dois": 2, "duas": 2, "two": 2, "tres": 3, "three": 3, "cuatro": 4,
    "quatro": 4, "four": 4, "cinco": 5, "five": 5, "seis": 6, "six": 6, "siete": 7, "sete": 7,
    "seven": 7, "ocho": 8, "oito": 8, "eight": 8, "nueve": 9, "nove": 9, "nine": 9,
    "diez": 10, "dez": 10, "ten": 10, "doce": 12, "doze": 12, "twelve": 12,
    "dieciocho": 18, "dezoito": 18, "eighteen": 18, "veinticuatro": 24, "twenty-four": 24,
}  # fmt: skip
_COUNT = r"(\d{1,2}|" + "|".join(sorted(_COUNT_WORDS, key=len, reverse=True)) + r")"
_INSTALMENTS = re.compile(
    r"\b" + _COUNT + r"\s*(?:cuotas|parcelas|pagos|pagamentos|payments|installments|"
    r"instalments|mensualidades|prestaciones|vezes|monthly payments|x\b)"
)


def parse_number(token: str) -> Decimal:
    """A number in local notation: the separator followed by exactly three
    digits groups thousands ("1.500", "1,500"); the last separator followed by
    one or two digits is the decimal point ("150,00", "1,500.50")."""
    token = token.replace(" ", "")
    if m := re.fullmatch(r"(.*?)[.,](\d{1,2})", token):
        whole, fraction = m.group(1), m.group(2)
    else:
        whole, fraction = token, ""
    digits = re.sub(r"[.,]", "", whole)
    try:
        return Decimal(f"{digits}.{fraction}" if fraction else digits)
    except InvalidOperation as exc:
        raise ValueError(f"{token!r} is no number") from exc


def to_minor(value: Decimal, currency: str) -> int:
    exponent = MINOR_UNITS.get(currency, 2)
    return int((value * (10**exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _currency_of(marker: str | None, currency: str) -> str:
    """The currency a symbol or word names; ``currency`` when it names none."""
    if not marker:
        return currency
    word = marker.split()[-1]
    if word in _FOREIGN:
        return _FOREIGN[word]
    if word.upper() in MINOR_UNITS:
        return word.upper()
    return currency


def _multiplier(marker: str | None) -> int:
    if not marker:
        return 1
    return _MULTIPLIER.get(marker.split()[0], 1)


def extract_amounts(text: str, language: Language, *, currency: str) -> list[Amount]:
    """Every amount named in ``text``, in order: exact minor units in the
    currency named (the debtor's own unless another is written), or a share
    of what is owed."""
    folded = strip_accents(text.lower())
    found: list[tuple[int, Amount]] = []
    taken: list[tuple[int, int]] = []
    for m in _AMOUNT.finditer(folded):
        number = m.group("n1") or m.group("n2")
        pre, suffix = m.group("pre"), m.group("suf1") or m.group("suf")
        if pre is None and suffix in ("m",):
            continue  # "3 m" is more likely meters or months than millions
        try:
            value = parse_number(number)
        except ValueError:
            continue
        code = _currency_of(suffix, "") or _currency_of(pre, "") or currency
        minor = to_minor(value * _multiplier(suffix), code)
        found.append((m.start(), Amount(minor=minor, currency=code)))
        taken.append(m.span())
    for m in _BARE.finditer(folded):
        start, end = m.span("n")
        if any(s < end and start < e for s, e in taken):
            continue
        try:
            value = parse_number(m.group("n"))
        except ValueError:
            continue
        found.append((start, Amount(minor=to_minor(value, currency), currency=currency)))
        taken.append((start, end))
    for pattern, share in _FRACTIONS:
        for m in pattern.finditer(folded):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            fraction = int(m.group(1)) / 100 if share < 0 else share
            if 0 < fraction <= 1:
                found.append((m.start(), Amount(fraction=fraction)))
                taken.append(m.span())
    found.sort(key=lambda item: item[0])
    return [amount for _, amount in found]


def extract_instalments(text: str) -> int | None:
    """How many instalments the debtor names ("en 3 cuotas", "10x"), if any."""
    m = _INSTALMENTS.search(strip_accents(text.lower()))
    if m is None:
        return None
    token = m.group(1)
    count = int(token) if token.isdigit() else _COUNT_WORDS[token]
    return count if 1 <= count <= 120 else None
