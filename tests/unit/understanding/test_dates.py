"""Dates in the debtor's words, language and time zone, relative to an injected now."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.understanding.dates import extract_dates, local_today
from recaudo.understanding.types import Language
from tests.unit.understanding.fixtures import NOW

BOGOTA = "America/Bogota"


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("es", "pago el viernes", date(2026, 12, 11)),
        ("es", "el lunes sin falta", date(2026, 12, 14)),
        ("es", "mañana pago", date(2026, 12, 10)),
        ("es", "pasado mañana", date(2026, 12, 11)),
        ("es", "a fin de mes", date(2026, 12, 31)),
        ("es", "pago el 30", date(2026, 12, 30)),
        ("es", "el 5 te pago", date(2027, 1, 5)),
        ("es", "el día 15", date(2026, 12, 15)),
        ("es", "el 15/12", date(2026, 12, 15)),
        ("es", "el 3/1", date(2027, 1, 3)),
        ("es", "la semana que viene", date(2026, 12, 16)),
        ("es", "el próximo mes", date(2027, 1, 1)),
        ("es", "en 3 días", date(2026, 12, 12)),
        ("es", "el 20 de diciembre", date(2026, 12, 20)),
        ("es", "pago el 1 de enero", date(2027, 1, 1)),
        ("es", "en la quincena", date(2026, 12, 15)),
        ("es", "hoy en la tarde", date(2026, 12, 9)),
        ("es", "pago el miercoles", date(2026, 12, 16)),
        ("pt", "pago na sexta", date(2026, 12, 11)),
        ("pt", "segunda-feira eu pago", date(2026, 12, 14)),
        ("pt", "dia 15", date(2026, 12, 15)),
        ("pt", "amanhã", date(2026, 12, 10)),
        ("pt", "depois de amanhã", date(2026, 12, 11)),
        ("pt", "semana que vem", date(2026, 12, 16)),
        ("pt", "no fim do mês", date(2026, 12, 31)),
        ("pt", "mês que vem", date(2027, 1, 1)),
        ("pt", "pago 15/12", date(2026, 12, 15)),
        ("pt", "daqui 3 dias", date(2026, 12, 12)),
        ("pt", "5 de janeiro", date(2027, 1, 5)),
        ("en", "next Monday", date(2026, 12, 14)),
        ("en", "on friday", date(2026, 12, 11)),
        ("en", "tomorrow", date(2026, 12, 10)),
        ("en", "the day after tomorrow", date(2026, 12, 11)),
        ("en", "on the 15th", date(2026, 12, 15)),
        ("en", "12/15", date(2026, 12, 15)),
        ("en", "15/12", date(2026, 12, 15)),
        ("en", "end of the month", date(2026, 12, 31)),
        ("en", "next week", date(2026, 12, 16)),
        ("en", "in 2 days", date(2026, 12, 11)),
        ("en", "December 20th", date(2026, 12, 20)),
        ("en", "Jan 3", date(2027, 1, 3)),
    ],
)
def test_dates_in_each_language(language: Language, text: str, expected: date) -> None:
    assert extract_dates(text, language, now=NOW, time_zone=BOGOTA) == [expected]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "cuánto debo"),
        ("es", "en 3 cuotas de 200 mil"),
        ("pt", "me manda a segunda via do boleto"),
        ("pt", "posso parcelar em 10x"),
        ("en", "I can pay 50% now"),
        ("en", "wrong number"),
    ],
)
def test_no_date_where_none_is_named(language: Language, text: str) -> None:
    assert extract_dates(text, language, now=NOW, time_zone=BOGOTA) == []


def test_tomorrow_is_counted_from_the_debtors_own_day() -> None:
    # 23:30 on Wednesday 9 December in Bogotá is already Thursday in UTC.
    late = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)
    assert extract_dates("mañana pago", "es", now=late, time_zone=BOGOTA) == [date(2026, 12, 10)]
    assert extract_dates("mañana pago", "es", now=late, time_zone="UTC") == [date(2026, 12, 11)]
    assert extract_dates("hoy pago", "es", now=late, time_zone=BOGOTA) == [date(2026, 12, 9)]


def test_a_weekday_named_on_that_weekday_is_next_week() -> None:
    friday = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    assert extract_dates("el viernes", "es", now=friday, time_zone=BOGOTA) == [date(2026, 12, 18)]


def test_a_day_past_this_month_is_next_month_and_clamped() -> None:
    jan_31 = datetime(2027, 1, 31, 15, 0, tzinfo=UTC)
    assert extract_dates("el 30", "es", now=jan_31, time_zone=BOGOTA) == [date(2027, 2, 28)]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        extract_dates("mañana", "es", now=datetime(2026, 12, 9), time_zone=BOGOTA)


@given(
    now=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(["America/Bogota", "America/Sao_Paulo", "America/New_York", "UTC"]),
    said=st.sampled_from(
        [
            ("es", "el viernes"),
            ("pt", "dia 15"),
            ("es", "a fin de mes"),
            ("es", "mañana"),
            ("es", "el 30"),
            ("es", "el 31"),
            ("es", "15/12"),
            ("pt", "semana que vem"),
            ("en", "next Monday"),
            ("en", "end of the month"),
            ("es", "quincena"),
            ("es", "el 1 de marzo"),
        ]
    ),
)
def test_dates_are_never_in_the_debtors_past_and_within_a_year(
    now: datetime, zone: str, said: tuple[Language, str]
) -> None:
    language, text = said
    today = local_today(now, zone)
    found = extract_dates(text, language, now=now, time_zone=zone)
    assert len(found) == 1
    assert today <= found[0] <= today + timedelta(days=366)
