"""``understand``: one debtor message in, its intent, confidence, alternatives
and entities out. Pure: the clock and the debtor's profile are arguments."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from recaudo.contracts.money import check_currency
from recaudo.understanding.amounts import extract_amounts, extract_instalments
from recaudo.understanding.classifier import IntentModel, default_model
from recaudo.understanding.dates import extract_dates
from recaudo.understanding.language import detect_language
from recaudo.understanding.opt_out import OPT_OUT_THRESHOLD, explicit_opt_out, opt_out_scope
from recaudo.understanding.types import LANGUAGES, Entities, Intent, Language, Understanding

#: Longer messages (quoted email threads) are read up to here.
MAX_CHARS = 4000
#: Alternatives below this probability are left out.
MIN_ALTERNATIVE = 0.01


class UnderstandingError(ValueError):
    pass


def _check_profile(time_zone: str, currency: str, now: datetime) -> None:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnderstandingError(
            f"unknown time zone {time_zone!r}: use an IANA name such as America/Bogota"
        ) from exc
    try:
        check_currency(currency)
    except ValueError as exc:
        raise UnderstandingError(str(exc)) from exc
    if now.tzinfo is None:
        raise UnderstandingError("now must be timezone-aware, for example datetime.now(UTC)")


#: A fixed moment for warm_up's dates: understanding never reads the clock.
_WARM_UP_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def warm_up() -> None:
    """Train the models and load dateparser's language data now, so that the
    first debtor's message is not the one that waits for it (a worker calls
    this once at start; it takes a few seconds of one core)."""
    default_model().pipeline()
    for language in LANGUAGES:
        understand(
            "pago la mitad el 5 de diciembre",
            language=None,
            time_zone="UTC",
            currency="USD",
            now=_WARM_UP_NOW,
            fallback_language=language,
        )


def decide(
    probabilities: list[tuple[Intent, float]], text: str
) -> tuple[Intent, float, tuple[tuple[Intent, float], ...]]:
    """The intent to act on, its confidence and the alternatives, opt-out on
    the safe side: an explicit stop request is an opt-out with confidence 1,
    and so is any message with P(opt_out) >= OPT_OUT_THRESHOLD (at that
    probability)."""
    scores = dict(probabilities)
    intent, confidence = probabilities[0]
    if explicit_opt_out(text):
        intent, confidence = "opt_out", 1.0
    elif scores["opt_out"] >= OPT_OUT_THRESHOLD:
        intent, confidence = "opt_out", scores["opt_out"]
    alternatives = tuple(
        (other, round(p, 4))
        for other, p in probabilities
        if other != intent and p >= MIN_ALTERNATIVE
    )
    return intent, round(confidence, 4), alternatives


def understand(
    text: str,
    *,
    language: Language | None,
    time_zone: str,
    currency: str,
    now: datetime,
    fallback_language: Language = "es",
    model: IntentModel | None = None,
) -> Understanding:
    """Understand one message from a debtor whose profile says ``language``,
    ``time_zone`` (IANA) and ``currency`` (ISO 4217), at ``now`` (aware).

    With ``language`` None the language is detected among es, pt and en, and
    ``fallback_language`` (the profile's, if any) is used when the message is
    too short to tell. Dates are resolved in ``time_zone`` relative to ``now``
    and never in the past; amounts are in ``currency`` unless another is written.
    """
    _check_profile(time_zone, currency, now)
    if language is not None and language not in LANGUAGES:
        raise UnderstandingError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    text = text[:MAX_CHARS]
    lang: Language = language or detect_language(text, fallback_language)
    if not text.strip():
        return Understanding(intent="unknown", confidence=1.0, language=lang)
    probabilities = (model or default_model()).probabilities(text, lang)
    intent, confidence, alternatives = decide(probabilities, text)
    scope, channels = opt_out_scope(text) if intent == "opt_out" else (None, ())
    entities = Entities(
        dates=tuple(extract_dates(text, lang, now=now, time_zone=time_zone)),
        amounts=tuple(extract_amounts(text, lang, currency=currency)),
        instalments=extract_instalments(text),
        opt_out_scope=scope,
        opt_out_channels=channels,
    )
    return Understanding(
        intent=intent,
        confidence=confidence,
        entities=entities,
        language=lang,
        alternatives=alternatives,
    )


def as_json(understanding: Understanding) -> dict[str, object]:
    """The JSON form printed by ``recaudo understand``."""
    e = understanding.entities
    return {
        "intent": understanding.intent,
        "confidence": understanding.confidence,
        "language": understanding.language,
        "entities": {
            "dates": [d.isoformat() for d in e.dates],
            "amounts": [
                {"minor": a.minor, "currency": a.currency}
                if a.fraction is None
                else {"fraction": round(a.fraction, 4)}
                for a in e.amounts
            ],
            "instalments": e.instalments,
            "opt_out_scope": e.opt_out_scope,
            "opt_out_channels": list(e.opt_out_channels),
        },
        "alternatives": [{"intent": i, "probability": p} for i, p in understanding.alternatives],
    }
