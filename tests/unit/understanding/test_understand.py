"""understand(): intent, confidence, alternatives and entities together, with
the model that ships (trained on the whole corpus)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from recaudo.understanding import Amount, Language
from recaudo.understanding.classifier import default_model
from recaudo.understanding.understand import UnderstandingError, understand, warm_up
from tests.unit.understanding.fixtures import NOW, PROFILE


def _understand(text: str, language: Language | None):  # type: ignore[no-untyped-def]
    zone, currency = PROFILE[language or "es"]
    return understand(text, language=language, time_zone=zone, currency=currency, now=NOW)


def test_a_promise_with_its_date_and_amount() -> None:
    result = _understand("te pago 200 mil el viernes", "es")
    assert result.intent == "promise_to_pay"
    assert result.entities.dates == (date(2026, 12, 11),)
    assert result.entities.amounts == (Amount(minor=20_000_000, currency="COP"),)
    assert 0.0 < result.confidence <= 1.0
    probabilities = [result.confidence] + [p for _, p in result.alternatives]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) <= 1.0 + 1e-6


@pytest.mark.parametrize(
    ("language", "text", "intent"),
    [
        ("es", "no me escriban más", "opt_out"),
        ("es", "dejen de llamarme", "opt_out"),
        ("pt", "pare de me mandar mensagem", "opt_out"),
        ("en", "unsubscribe me", "opt_out"),
        ("es", "ya pagué, no me escriban más", "opt_out"),
        ("pt", "quero parcelar em 4 parcelas", "ask_plan"),
        ("en", "I'll pay $50 next Monday", "promise_to_pay"),
    ],
)
def test_intents(language: Language, text: str, intent: str) -> None:
    assert _understand(text, language).intent == intent


def test_an_opt_out_carries_its_scope() -> None:
    result = _understand("no me llamen más", "es")
    assert (result.intent, result.confidence) == ("opt_out", 1.0)
    assert result.entities.opt_out_scope == "channel"
    assert result.entities.opt_out_channels == ("voice",)
    assert _understand("no me contacten más", "es").entities.opt_out_scope == "all"
    assert _understand("cuánto debo", "es").entities.opt_out_scope is None


def test_instalments() -> None:
    assert _understand("puedo pagar en 3 cuotas?", "es").entities.instalments == 3


def test_language_is_detected_when_unknown_and_falls_back_when_unsure() -> None:
    assert _understand("semana que vem eu pago tudo, pode ser?", None).language == "pt"
    assert _understand("I will pay everything next week", None).language == "en"
    result = understand(
        "ok", language=None, time_zone="UTC", currency="USD", now=NOW, fallback_language="en"
    )
    assert result.language == "en"


def test_an_empty_message_is_unknown() -> None:
    assert _understand("   ", "es").intent == "unknown"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "IANA"),
        ({"currency": "XXX"}, "ISO-4217"),
        ({"now": datetime(2026, 12, 9)}, "timezone-aware"),
    ],
)
def test_a_bad_profile_is_refused_with_what_to_do(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"time_zone": "UTC", "currency": "USD", "now": NOW} | kwargs
    with pytest.raises(UnderstandingError, match=message):
        understand("hola", language="es", **args)  # type: ignore[arg-type]


def test_the_model_is_built_once_per_process() -> None:
    assert default_model() is default_model()
    assert default_model().pipeline() is default_model().pipeline()


def test_warm_up_builds_what_the_first_message_needs() -> None:
    warm_up()
    assert default_model().pipeline() is default_model().pipeline()
