"""Message texts: sandboxed Jinja2 templates per name, tone and language.

The catalogue (:data:`TEMPLATE_FILE`, TOML) holds ``[name.tone.language]``
tables with a ``body`` and, for email, a ``subject``. Lookup falls back from
the segment's tone to ``neutral`` and from the debtor's language to English,
so a new tone or language can be added one template at a time. Templates run
in Jinja's sandbox with undefined variables as errors: a typo in a template
fails loudly at load (:meth:`Templates.check`), never as a blank in a letter.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from recaudo.events import Channel

TEMPLATE_FILE: Final = "messages.toml"
FALLBACK_LANGUAGE: Final = "en"
LANGUAGES: Final = ("es", "en", "pt")

#: Regulation F 1006.6(e): every electronic communication says how to opt out.
OPT_OUT_TEXT: Final[Mapping[str, Mapping[str, str]]] = {
    "sms": {
        "en": "Reply STOP to opt out.",
        "es": "Responda BAJA para no recibir más mensajes.",
        "pt": "Responda PARAR para não receber mais mensagens.",
    },
    "whatsapp": {
        "en": "Reply STOP to opt out.",
        "es": "Responda BAJA para no recibir más mensajes.",
        "pt": "Responda PARAR para não receber mais mensagens.",
    },
    "email": {
        "en": "To stop receiving these emails, reply STOP to this message.",
        "es": "Para dejar de recibir estos correos, responda BAJA a este mensaje.",
        "pt": "Para deixar de receber estes e-mails, responda PARAR a esta mensagem.",
    },
}

#: What every template may use; :meth:`Templates.check` renders each with these.
SAMPLE_VARIABLES: Final[Mapping[str, str]] = {
    "amount": "1,234.56 USD",
    "balance": "5,000.00 USD",
    "due_date": "2026-03-01",
    "days_past_due": "12",
    "account_ref": "****1234",
    "promised_date": "2026-03-05",
}


class TemplateError(ValueError):
    """A missing or broken template; names the template, tone and language."""


@dataclass(frozen=True, slots=True)
class Rendered:
    template: str
    language: str
    subject: str | None
    body: str


def language_of(locale: str | None) -> str:
    """``es-CO`` -> ``es``; anything unknown -> English."""
    lang = (locale or "").split("-", 1)[0].lower()
    return lang if lang in LANGUAGES else FALLBACK_LANGUAGE


class Templates:
    def __init__(self, catalogue: Mapping[str, object]) -> None:
        self._env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._compiled: dict[tuple[str, str, str], tuple[Template | None, Template]] = {}
        for name, tones in catalogue.items():
            if not isinstance(tones, dict):
                raise TemplateError(f"template {name!r}: expected [{name}.<tone>.<language>]")
            for tone, languages in tones.items():
                if not isinstance(languages, dict):
                    raise TemplateError(f"template {name}.{tone}: expected per-language tables")
                for lang, parts in languages.items():
                    if not isinstance(parts, dict) or not isinstance(parts.get("body"), str):
                        raise TemplateError(f"template {name}.{tone}.{lang}: needs a body")
                    subject = parts.get("subject")
                    try:
                        self._compiled[(name, tone, lang)] = (
                            self._env.from_string(subject) if isinstance(subject, str) else None,
                            self._env.from_string(parts["body"]),
                        )
                    except Exception as exc:
                        raise TemplateError(f"template {name}.{tone}.{lang}: {exc}") from exc

    @classmethod
    def load(cls, path: Path | None = None) -> Templates:
        if path is None:
            text = importlib.resources.files(__package__).joinpath(TEMPLATE_FILE).read_text()
        else:
            text = path.read_text(encoding="utf-8")
        try:
            return cls(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise TemplateError(f"{path or TEMPLATE_FILE}: not valid TOML: {exc}") from exc

    def names(self) -> set[str]:
        return {name for name, _, _ in self._compiled}

    def _find(
        self, name: str, tone: str, language: str
    ) -> tuple[str, tuple[Template | None, Template]]:
        # The segment's tone, else neutral, else any tone: a softer or firmer
        # text beats no text; the language falls back to English.
        tones = [tone, "neutral", *sorted({t for n, t, _ in self._compiled if n == name})]
        for t in tones:
            for lang in (language, FALLBACK_LANGUAGE):
                found = self._compiled.get((name, t, lang))
                if found is not None:
                    return lang, found
        raise TemplateError(
            f"no template {name!r} for tone {tone!r} in {language!r} or {FALLBACK_LANGUAGE!r}; "
            f"add [{name}.neutral.{FALLBACK_LANGUAGE}] to the template file"
        )

    def render(
        self,
        name: str,
        *,
        tone: str,
        locale: str | None,
        channel: Channel,
        variables: Mapping[str, str],
        opt_out: bool,
    ) -> Rendered:
        language, (subject, body) = self._find(name, tone, language_of(locale))
        try:
            text = body.render(**variables).strip()
            title = subject.render(**variables).strip() if subject is not None else None
        except Exception as exc:
            raise TemplateError(f"template {name!r} ({tone}, {language}): {exc}") from exc
        if opt_out and channel in OPT_OUT_TEXT:
            text = f"{text}\n{OPT_OUT_TEXT[channel][language]}"
        return Rendered(name, language, title if channel == "email" else None, text)

    def check(self, uses: set[tuple[str, str]]) -> None:
        """Render every (template, tone) in ``uses`` in every language with
        :data:`SAMPLE_VARIABLES`: at start, so a missing or broken template
        stops the worker before it decides anything."""
        missing = {name for name, _ in uses} - self.names()
        if missing:
            raise TemplateError(f"the strategy uses templates that do not exist: {sorted(missing)}")
        for name, tone in sorted(uses):
            for lang in LANGUAGES:
                for channel in ("email", "sms"):
                    self.render(
                        name,
                        tone=tone,
                        locale=lang,
                        channel=channel,
                        variables=SAMPLE_VARIABLES,
                        opt_out=True,
                    )
