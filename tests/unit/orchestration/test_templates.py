"""Message texts and the opt-out sentence each channel carries: a message
never tells the debtor to opt out in a way recaudo cannot receive."""

from __future__ import annotations

import re

import pytest

from recaudo.orchestration import Orchestrator, Templates, strategy_from_mapping
from recaudo.orchestration.templates import (
    SAMPLE_VARIABLES,
    NoOptOutMethod,
    TemplateError,
)
from recaudo.policy import preset
from recaudo.view import snapshot
from tests.unit.orchestration.driver import (
    OPT_OUT_PAGE,
    Driver,
    shipped_catalogue,
    with_opt_out_page,
)
from tests.unit.view.builders import DEBTOR, missed, opened, profile, response

US = preset("us_reg_f")
#: a reply with an opt-out keyword, in any of the catalogue's languages
REPLY_KEYWORD = re.compile(
    r"\b(reply|respond[ae]|responda)\b[^.]*\b(STOP|BAJA|PARAR)\b", re.IGNORECASE
)


def email_texts(templates: Templates) -> list[tuple[str, str, str, str]]:
    """Every shipped template, tone and language rendered as an email to a
    debtor under Regulation F: (name, tone, language, body)."""
    catalogue = shipped_catalogue()
    out = []
    for name, tones in catalogue.items():
        if name == "opt_out":
            continue
        for tone, languages in tones.items():
            for lang in languages:
                rendered = templates.render(
                    name,
                    tone=tone,
                    locale=lang,
                    channel="email",
                    variables=SAMPLE_VARIABLES,
                    opt_out="email" in US.requires_opt_out_text,
                )
                out.append((name, tone, lang, rendered.body))
    return out


def test_every_us_email_names_the_opt_out_page_and_none_asks_for_a_reply() -> None:
    texts = email_texts(with_opt_out_page())
    assert len(texts) >= 20
    for name, tone, lang, body in texts:
        where = f"{name}.{tone}.{lang}"
        assert body.splitlines()[-1].endswith(f"{OPT_OUT_PAGE}."), where
        assert not REPLY_KEYWORD.search(body), f"{where} asks for an email reply: {body!r}"


def test_without_an_opt_out_page_an_email_cannot_carry_the_sentence() -> None:
    templates = Templates(shipped_catalogue())
    assert not templates.offers_opt_out("email")
    assert templates.offers_opt_out("sms") and templates.offers_opt_out("whatsapp")
    with pytest.raises(NoOptOutMethod, match="email_contact"):
        templates.render(
            "payment_missed",
            tone="soft",
            locale="en",
            channel="email",
            variables=SAMPLE_VARIABLES,
            opt_out=True,
        )
    # Where no rule asks for the sentence, the email goes out without it.
    plain = templates.render(
        "payment_missed",
        tone="soft",
        locale="en",
        channel="email",
        variables=SAMPLE_VARIABLES,
        opt_out=False,
    )
    assert "opt out" not in plain.body


@pytest.mark.parametrize(
    "table",
    [{"email_contact": 42}, {"email": OPT_OUT_PAGE}, "https://bank.example/opt-out"],
)
def test_a_malformed_opt_out_table_is_refused_by_name(table: object) -> None:
    catalogue = shipped_catalogue()
    catalogue["opt_out"] = table
    with pytest.raises(TemplateError, match="opt_out"):
        Templates(catalogue)


US_PROFILE = {
    "jurisdiction": "us_reg_f",
    "time_zone": "America/New_York",
    "country": "US",
    "preferred_language": "en",
}


def email_first(templates: Templates) -> Driver:
    step = {"offset": "0h", "channels": ["email", "sms"], "template": "payment_missed"}
    strategy = strategy_from_mapping(
        {
            "id": "t",
            "dedup_window": "1h",
            "cadence": [{"id": "c", "trigger": "payment_missed", "champion": [step]}],
        }
    )
    return Driver(orchestrator=Orchestrator(strategy, templates))


def test_under_reg_f_without_an_opt_out_page_the_step_goes_to_the_next_channel() -> None:
    d = email_first(Templates.load())
    d.event(profile(-40, **US_PROFILE))
    d.event(opened(-30))
    (sent,) = d.event(missed(1, 0, when=0.1))
    assert sent.channel == "sms" and sent.body.endswith("Reply STOP to opt out.")
    skipped = d.decisions[0]
    assert (skipped.outcome, skipped.channel) == ("SUPPRESSED", "email")
    assert [h.reason_code for h in skipped.rules_fired] == ["NO_OPT_OUT_METHOD"]


def test_an_opt_out_taken_by_the_page_stops_the_emails() -> None:
    d = email_first(with_opt_out_page())
    d.event(profile(-40, **US_PROFILE))
    d.event(opened(-30))
    (first,) = d.event(missed(1, 0, when=0.1))
    assert first.channel == "email" and first.body.endswith(f"opt out at {OPT_OUT_PAGE}.")
    # The operator records what the page took, as `recaudo publish` would.
    d.event(response("OPTED_OUT", 0.2, channel="email", dispatch=None))
    (second,) = d.event(missed(2, 1, when=1.2))
    assert second.channel == "sms"
    assert d.state is not None
    channels = {c.channel: c for c in snapshot(d.state, DEBTOR).channels}
    assert channels["email"].opted_out and not channels["sms"].opted_out
