"""Message texts: sandboxed Jinja2 templates per name, tone and language.

The catalogue (:data:`TEMPLATE_FILE`, TOML) holds ``[name.tone.language]``
tables with a ``body`` and, for email, a ``subject``, and an optional
``[opt_out]`` table saying how a debtor opts out of email. Lookup falls back from
the segment's tone to ``neutral`` and from the debtor's language to English,
so a new tone or language can be added one template at a time. Templates run
in Jinja's sandbox with undefined variables as errors: a typo in a template
fails loudly at load (:meth:`Templates.check`), never as a blank in a letter.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from recaudo.contracts.records import Channel

TEMPLATE_FILE: Final = "messages.toml"
FALLBACK_LANGUAGE: Final = "en"
LANGUAGES: Final = ("es", "en", "pt")

#: Regulation F 1006.6(e): every electronic communication says how to opt out.
#: A reply works on SMS and WhatsApp, whose inbound messages the webhook
#: service turns into opt-outs.
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
}
#: Email replies reach nobody, so an email names the operator's own opt-out
#: page or phone line (``[opt_out] email_contact``) instead.
EMAIL_OPT_OUT_TEXT: Final[Mapping[str, str]] = {
    "en": "To stop receiving these emails, opt out at {contact}.",
    "es": "Para dejar de recibir estos correos, solicítelo en {contact}.",
    "pt": "Para deixar de receber estes e-mails, solicite em {contact}.",
}
#: The catalogue's table of opt-out settings (not a template).
OPT_OUT_TABLE: Final = "opt_out"

#: What every template may use; :meth:`Templates.check` renders each with these.
SAMPLE_VARIABLES: Final[Mapping[str, str]] = {
    "amount": "1,234.56 USD",
    "balance": "5,000.00 USD",
    "due_date": "2026-03-01",
    "days_past_due": "12",
    "account_ref": "****1234",
    "promised_date": "2026-03-05",
    "portal_link": "https://pay.example.com/p/AQ8x2nTqVb0c",
}
#: (debtor id, dispatch id, channel, account id, now in UTC ms) -> the
#: dispatch's portal link (:class:`recaudo.portal.link.PortalLinks`)
LinkMaker = Callable[[str, str, str, str | None, int], str]


class TemplateError(ValueError):
    """A missing or broken template; names the template, tone and language."""


class NoOptOutMethod(TemplateError):
    """A message must say how to opt out and its channel has no way that works."""


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
        #: the operator's opt-out page or phone line named in emails, if any
        self.email_opt_out = _email_opt_out(catalogue.get(OPT_OUT_TABLE, {}))
        for name, tones in catalogue.items():
            if name == OPT_OUT_TABLE:
                continue
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

    def offers_opt_out(self, channel: Channel) -> bool:
        """Whether a message on ``channel`` can tell the debtor a way to opt
        out that recaudo or its operator actually honours."""
        return channel in OPT_OUT_TEXT or (channel == "email" and self.email_opt_out is not None)

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
        # No portal configured: templates test {% if portal_link %} and say nothing.
        variables = {"portal_link": "", **variables}
        try:
            text = body.render(**variables).strip()
            title = subject.render(**variables).strip() if subject is not None else None
        except Exception as exc:
            raise TemplateError(f"template {name!r} ({tone}, {language}): {exc}") from exc
        if opt_out and channel in OPT_OUT_TEXT:
            text = f"{text}\n{OPT_OUT_TEXT[channel][language]}"
        elif opt_out and channel == "email":
            if self.email_opt_out is None:
                raise NoOptOutMethod(
                    "an email that must say how to opt out, but recaudo receives no email "
                    f"replies: set {OPT_OUT_TABLE}.email_contact in the template file "
                    "(RECAUDO_TEMPLATES_FILE) to your opt-out page or phone line"
                )
            sentence = EMAIL_OPT_OUT_TEXT[language].format(contact=self.email_opt_out)
            text = f"{text}\n{sentence}"
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
                        opt_out=self.offers_opt_out(channel),
                    )


def _email_opt_out(table: object) -> str | None:
    if not isinstance(table, dict) or set(table) - {"email_contact"}:
        raise TemplateError(
            f"[{OPT_OUT_TABLE}]: expected a table with only email_contact "
            '(e.g. email_contact = "https://example.com/opt-out"), got '
            f"{table!r}"
        )
    contact = table.get("email_contact", "")
    if not isinstance(contact, str):
        raise TemplateError(f"{OPT_OUT_TABLE}.email_contact: expected text, got {contact!r}")
    return contact.strip() or None
