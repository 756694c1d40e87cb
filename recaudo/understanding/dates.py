"""Dates a debtor names ("el viernes", "a fin de mes", "dia 15", "next Monday",
"15/12", "5 de diciembre"), resolved in the debtor's time zone relative to an
injected ``now`` and always towards the future.

Small rules cover the colloquial forms ``dateparser`` does not resolve
(weekdays after an article, "dia 15", "fin de mes", "semana que vem",
"pasado mañana"); ``dateparser`` resolves calendar dates written with a month
name in any of its spellings ("5 de dic.", "December 5th", "1º de janeiro").
"""

from __future__ import annotations

import calendar
import re
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser  # type: ignore[import-untyped]

from recaudo.understanding.corpus import strip_accents
from recaudo.understanding.types import Language

WEEKDAYS: dict[str, int] = {
    # es
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6,
    # pt
    "segunda": 0, "terca": 1, "quarta": 2, "quinta": 3, "sexta": 4,
    # en
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip

MONTHS = (
    r"ene(?:ro)?|feb(?:rero)?|mar(?:zo)?|abr(?:il)?|may(?:o)?|jun(?:io)?|jul(?:io)?|"
    r"ago(?:sto)?|sep(?:tiembre)?|set(?:iembre|embro)?|oct(?:ubre)?|nov(?:iembre|embro)?|"
    r"dic(?:iembre)?|jan(?:eiro|uary)?|fev(?:ereiro)?|marco|april|apr|mai(?:o)?|junho|julho|"
    r"out(?:ubro)?|dez(?:embro)?|february|march|june|july|aug(?:ust)?|sept(?:ember)?|"
    r"october|november|dec(?:ember)?"
)

_WORD_NUMBERS: dict[str, int] = {
    "un": 1, "uno": 1, "una": 1, "um": 1, "uma": 1, "one": 1, "a": 1,
    "dos": 2, "dois": 2, "duas": 2, "two": 2, "tres": 3, "three": 3, "cuatro": 4, "quatro": 4,
    "four": 4, "cinco": 5, "five": 5, "seis": 6, "six": 6, "siete": 7, "sete": 7, "seven": 7,
    "ocho": 8, "oito": 8, "eight": 8, "nueve": 9, "nove": 9, "nine": 9, "diez": 10, "dez": 10,
    "ten": 10, "once": 11, "onze": 11, "eleven": 11, "doce": 12, "doze": 12, "twelve": 12,
}  # fmt: skip

_NUMBER = r"(\d{1,2}|" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")"

_DAY_AFTER_TOMORROW = re.compile(r"\b(pasado manana|depois de amanha|day after tomorrow)\b")
_TOMORROW = re.compile(r"\b(manana|amanha|tomorrow|tmrw|tmr)\b")
_TODAY = re.compile(r"\b(hoy|hoje|today|tonight|esta noche|hoje a noite|ahorita)\b")
_END_OF_MONTH = re.compile(
    r"\b(fin(?:al)? de(?:l)? mes|fim do mes|final do mes|end of (?:the )?month|month end)\b"
)
_QUINCENA = re.compile(r"\b(quincena|quinzena)\b")
_NEXT_WEEK = re.compile(
    r"\b(semana que viene|proxima semana|la otra semana|semana que vem|proxima semana|"
    r"next week)\b"
)
_NEXT_MONTH = re.compile(
    r"\b(proximo mes|mes que viene|mes que vem|next month|el otro mes|mes proximo)\b"
)
_IN_DAYS = re.compile(r"\b(?:en|em|in|daqui(?: a)?|dentro de)\s+" + _NUMBER + r"\s+(?:dias|days)\b")
_WEEKDAY = re.compile(r"\b(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\b")
_NUMERIC = re.compile(r"(?<![\d/.,$])(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?(?![\d/])")
_MONTH_NAME = re.compile(
    r"\b(?:(\d{1,2})(?:o|º|st|nd|rd|th)?\s+(?:de\s+)?(?:" + MONTHS + r")\.?\b"
    r"|(?:" + MONTHS + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b)"
)
# "el 30", "dia 15", "on the 15th", "the 1st", "el día 10", "até dia 20".
_DAY_OF_MONTH = re.compile(
    r"\b(?:(?:el|dia|day|o)\s+(?:dia\s+)?|(?:the|on the)\s+)(\d{1,2})(?:o|º|st|nd|rd|th)?\b"
    r"(?!\s*(?:/|de\s+(?:" + MONTHS + r")|%|cuotas|parcelas|pagos|payments|dias|days|mil|k\b))"
)

_dateparser_lock = threading.Lock()


def local_today(now: datetime, time_zone: str) -> date:
    """The debtor's calendar day at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (for example datetime.now(UTC))")
    return now.astimezone(ZoneInfo(time_zone)).date()


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _WORD_NUMBERS[token]


def _day_in_month(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _next_day_of_month(today: date, day: int) -> date | None:
    if not 1 <= day <= 31:
        return None
    candidate = _day_in_month(today.year, today.month, day)
    if candidate >= today and candidate.day == day:
        return candidate
    if candidate >= today and day > candidate.day:
        return candidate  # "el 31" in a 30-day month: its last day
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return _day_in_month(year, month, day)


def _next_date(today: date, day: int, month: int, year: int | None) -> date | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if year is not None:
        year = year + 2000 if year < 100 else year
        try:
            return date(year, month, day)
        except ValueError:
            return None
    for y in (today.year, today.year + 1):
        try:
            candidate = date(y, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _end_of_month(today: date) -> date:
    return _day_in_month(today.year, today.month, 31)


def _month_name_date(span: str, language: Language, today: date) -> date | None:
    settings = {
        "PREFER_DATES_FROM": "future",
        "PREFER_DAY_OF_MONTH": "first",
        "RELATIVE_BASE": datetime(today.year, today.month, today.day),
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    with _dateparser_lock:  # its language loaders are not thread-safe
        parsed = dateparser.parse(span, languages=[language, "es", "pt", "en"], settings=settings)
    if parsed is None:
        return None
    result: date = parsed.date()
    return result if result >= today else None


def extract_dates(text: str, language: Language, *, now: datetime, time_zone: str) -> list[date]:
    """Every date named in ``text``, in order of first mention, none in the past."""
    today = local_today(now, time_zone)
    folded = strip_accents(text.lower())
    found: list[tuple[int, date]] = []
    taken: list[tuple[int, int]] = []

    def claim(match: re.Match[str], value: date | None) -> None:
        start, end = match.span()
        if value is None or any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        found.append((start, value))

    for m in _MONTH_NAME.finditer(folded):
        claim(m, _month_name_date(m.group(0), language, today))
    for m in _NUMERIC.finditer(folded):
        first, second = int(m.group(1)), int(m.group(2))
        year = int(m.group(3)) if m.group(3) else None
        # English writes month/day; when that is no date (15/12) it is day/month.
        if language == "en" and first <= 12:
            value = _next_date(today, second, first, year) or _next_date(today, first, second, year)
        else:
            value = _next_date(today, first, second, year)
        claim(m, value)
    for m in _DAY_AFTER_TOMORROW.finditer(folded):
        claim(m, today + timedelta(days=2))
    for m in _TOMORROW.finditer(folded):
        claim(m, today + timedelta(days=1))
    for m in _TODAY.finditer(folded):
        claim(m, today)
    for m in _END_OF_MONTH.finditer(folded):
        claim(m, _end_of_month(today))
    for m in _QUINCENA.finditer(folded):
        claim(m, _next_day_of_month(today, 15) if today.day <= 15 else _end_of_month(today))
    for m in _NEXT_WEEK.finditer(folded):
        claim(m, today + timedelta(days=7))
    for m in _NEXT_MONTH.finditer(folded):
        first_next = _end_of_month(today) + timedelta(days=1)
        claim(m, first_next)
    for m in _IN_DAYS.finditer(folded):
        claim(m, today + timedelta(days=_number(m.group(1))))
    for m in _WEEKDAY.finditer(folded):
        if len(m.group(1)) == 3 and language != "en":
            continue  # short English names only in English
        if folded.startswith(" via", m.end()):
            continue  # "segunda via do boleto": a copy of the bill, not Monday
        weekday = WEEKDAYS[m.group(1)]
        ahead = (weekday - today.weekday()) % 7 or 7
        claim(m, today + timedelta(days=ahead))
    for m in _DAY_OF_MONTH.finditer(folded):
        claim(m, _next_day_of_month(today, int(m.group(1))))
    found.sort(key=lambda item: item[0])
    out: list[date] = []
    for _, value in found:
        if value not in out:
            out.append(value)
    return out
