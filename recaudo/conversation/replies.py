"""The reply texts of the dialogue: ``replies.toml`` beside this module, in
the orchestrator's template format (``[<reply>.<tone>.<language>]``) and
rendered by the same :class:`~recaudo.orchestration.templates.Templates`
(sandboxed Jinja2, undefined variables are errors, English fallback).
Amounts arrive formatted by :func:`recaudo.contracts.money.format_money`, dates as ISO
dates, as in every other message recaudo sends."""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from recaudo.orchestration.templates import LANGUAGES, TemplateError, Templates

REPLY_FILE: Final = "replies.toml"

#: every reply the dialogue sends, with the variables it is given
REPLY_KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "balance": ("amount", "balance", "days_past_due"),
    "nothing_owed": (),
    "pay_now": ("amount",),
    "ask_promise_date": ("amount",),
    "promise_counter": ("amount", "due_date"),
    "promise_confirmed": ("amount", "due_date"),
    "ask_instalments": ("max_instalments",),
    "plan_offer": ("instalments", "instalment", "last_instalment", "frequency", "due_date"),
    "plan_counter": ("instalments", "instalment", "last_instalment", "frequency", "due_date"),
    "plan_confirmed": ("instalments", "instalment", "last_instalment", "frequency", "due_date"),
    "settlement_offer": ("amount", "balance", "discount", "due_date"),
    "settlement_confirmed": ("amount", "due_date"),
    "opt_out_confirmed": ("scope",),
    "wrong_person": (),
    "dispute_received": (),
    "handoff": (),
    "already_paid": (),
    "thanks": (),
    "clarify": (),
    "agent_reply": ("text",),
}

#: one value of each variable, for :func:`check_replies`
SAMPLE: Final[Mapping[str, str]] = {
    "amount": "COP 150,000.00",
    "balance": "COP 500,000.00",
    "discount": "COP 50,000.00",
    "days_past_due": "42",
    "due_date": "2026-12-15",
    "instalments": "3",
    "instalment": "COP 50,000.00",
    "last_instalment": "COP 50,000.00",
    "frequency": "MONTHLY",
    "max_instalments": "6",
    "scope": "channel",
    "text": "Hola, soy Ana del banco.",
}


def load_replies(path: Path | None = None) -> Templates:
    """The reply catalogue (``path``, else recaudo's own), checked."""
    if path is None:
        text = importlib.resources.files(__package__).joinpath(REPLY_FILE).read_text()
    else:
        text = path.read_text(encoding="utf-8")
    try:
        templates = Templates(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{path or REPLY_FILE}: not valid TOML: {exc}") from exc
    check_replies(templates)
    return templates


def check_replies(templates: Templates) -> None:
    """Every reply kind renders in every language with only its own variables."""
    missing = sorted(set(REPLY_KINDS) - templates.names())
    if missing:
        raise TemplateError(f"the reply catalogue lacks {missing}")
    for kind, names in REPLY_KINDS.items():
        variables = {name: SAMPLE[name] for name in names}
        for language in LANGUAGES:
            rendered = templates.render(
                kind,
                tone="neutral",
                locale=language,
                channel="sms",
                variables=variables,
                opt_out=False,
            )
            if rendered.language != language:
                raise TemplateError(f"the reply catalogue lacks [{kind}.neutral.{language}]")
