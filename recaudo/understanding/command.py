"""``recaudo understand``: the classifier and entity extractors on a bank's own
messages, without the pipeline."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from recaudo.understanding.types import Language

#: The profile assumed per language when the command is not told otherwise.
DEFAULT_PROFILE: dict[str, tuple[str, str]] = {
    "es": ("America/Bogota", "COP"),
    "pt": ("America/Sao_Paulo", "BRL"),
    "en": ("America/New_York", "USD"),
}
LANGUAGE_CHOICES = ["es", "pt", "en", "auto"]
_LANGUAGE_OF: dict[str, Language | None] = {"es": "es", "pt": "pt", "en": "en", "auto": None}


def _now(value: object) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if not isinstance(value, str):
        raise ValueError(f'"now" must be an ISO 8601 string, not {value!r}')
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"now {value!r}: expected an ISO 8601 time such as 2026-12-09T15:00:00Z"
        ) from exc
    if parsed.tzinfo is None:
        raise ValueError(f"now {value!r}: add the offset, e.g. 2026-12-09T15:00:00-05:00 or Z")
    return parsed


def _understand_one(
    text: Any, language: Any, time_zone: Any, currency: Any, now: datetime
) -> dict[str, object]:
    from recaudo.understanding.understand import as_json, understand

    if not isinstance(text, str):
        raise ValueError('"text" must be a string')
    for name, value in (("language", language), ("time_zone", time_zone), ("currency", currency)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f'"{name}" must be a string, not {value!r}')
    if language not in LANGUAGE_CHOICES:
        raise ValueError(f"language {language!r}: expected one of es, pt, en, auto")
    chosen = _LANGUAGE_OF[language]
    profile_language: Language = chosen or "es"
    default_zone, default_currency = DEFAULT_PROFILE[profile_language]
    result = understand(
        text,
        language=chosen,
        time_zone=time_zone or default_zone,
        currency=(currency or default_currency).upper(),
        now=now,
        fallback_language=profile_language,
    )
    return as_json(result)


def _build_models() -> None:
    from recaudo.understanding import classifier, language
    from recaudo.understanding.model_cache import ModelCache, default_cache_dir
    from recaudo.understanding.understand import warm_up

    warm_up()
    cache = ModelCache(default_cache_dir())
    for name in (classifier.MODEL_NAME, language.MODEL_NAME):
        path = cache.path(name)
        if not path.is_file():
            raise click.ClickException(
                f"{path} was not written: make the directory writable or set "
                "RECAUDO_MODEL_CACHE_DIR to one that is"
            )
        click.echo(str(path))


@click.command("understand")
@click.argument("text", required=False)
@click.option(
    "--language",
    "-l",
    type=click.Choice(LANGUAGE_CHOICES),
    default="auto",
    show_default=True,
    help="The debtor's language; auto detects es, pt or en (es when the message is too short).",
)
@click.option(
    "--time-zone",
    default=None,
    help="IANA zone dates are resolved in [default per language: America/Bogota, "
    "America/Sao_Paulo, America/New_York].",
)
@click.option(
    "--currency",
    default=None,
    help="ISO 4217 currency amounts are read in [default per language: COP, BRL, USD].",
)
@click.option(
    "--now",
    "now_text",
    default=None,
    metavar="ISO-TIME",
    help="The moment relative dates are counted from [default: the current time].",
)
@click.option(
    "--build-model",
    is_flag=True,
    help="Build the models from the corpus into the model cache (RECAUDO_MODEL_CACHE_DIR, "
    "default ~/.cache/recaudo/understanding) unless already there, print their paths "
    "and exit: run it when building an image so no process trains at start.",
)
def understand_command(
    text: str | None,
    language: str,
    time_zone: str | None,
    currency: str | None,
    now_text: str | None,
    build_model: bool,
) -> None:
    """Print what recaudo understands of a debtor's message, as JSON: intent,
    confidence, entities (dates, amounts, instalments, opt-out scope) and the
    alternative intents with their probabilities.

    \b
    With - instead of TEXT, read JSON lines from standard input, each
      {"text": ..., "language": ..., "time_zone": ..., "currency": ..., "now": ...}
    (all but "text" optional, defaulting to the options), and print one JSON
    object per line, in order; a line that cannot be read prints
    {"line": N, "error": ...} and the command exits 1 at the end.

    \b
    Examples:
      recaudo understand --language es "pago 200 mil el viernes"
      recaudo understand - < messages.jsonl > understood.jsonl
      recaudo understand --build-model
    """
    if build_model:
        _build_models()
        return
    if text is None:
        raise click.UsageError("give a TEXT, - to read JSON lines, or --build-model")
    try:
        now = _now(now_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--now'") from exc
    if text != "-":
        try:
            result = _understand_one(text, language, time_zone, currency, now)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    failed = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from exc
            if not isinstance(row, dict):
                raise ValueError("each line must be a JSON object with a 'text'")
            if "text" not in row:
                raise ValueError("missing 'text'")
            result = _understand_one(
                row["text"],
                row.get("language") or language,
                row.get("time_zone") or time_zone,
                row.get("currency") or currency,
                _now(row["now"]) if row.get("now") else now,
            )
        except ValueError as exc:
            failed += 1
            click.echo(f"line {number}: {exc}", err=True)
            click.echo(json.dumps({"line": number, "error": str(exc)}, ensure_ascii=False))
            continue
        click.echo(json.dumps(result, ensure_ascii=False))
    if failed:
        raise SystemExit(1)
