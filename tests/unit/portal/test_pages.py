"""The portal's pages: the debtor's language, escaped text, labelled fields,
no script; and the link every message of an arrears cadence carries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from recaudo.orchestration import Orchestrator, load_strategy
from recaudo.portal.app import Portal
from recaudo.portal.link import PortalLinks
from recaudo.portal.offers import offers_for
from recaudo.portal.pages import message_page, portal_page
from recaudo.portal.token import Keys, verify
from recaudo.settings import Settings
from tests.unit.orchestration.driver import _TEMPLATES, Driver
from tests.unit.portal.test_offers import LINK, NOW, view_of
from tests.unit.view.builders import DEBTOR, missed, opened, profile

KEYS = Keys.derive(b"k")


def page(language: str, product: str = "card") -> str:
    view = view_of(language)
    view = view.model_copy(
        update={"accounts": [a.model_copy(update={"product": product}) for a in view.accounts]}
    )
    groups = offers_for(view, load_strategy(), LINK, NOW)
    tokens = {o.offer_id: f"tok-{i}" for i, o in enumerate(groups[0].offers)}
    return portal_page(language, groups, tokens, "../choose", {}).decode()


@pytest.mark.parametrize(
    ("language", "words"), [("es", "Sus opciones"), ("pt", "Suas opções"), ("en", "Your options")]
)
def test_the_page_is_in_the_debtors_language(language: str, words: str) -> None:
    html = page(language)
    assert f'<html lang="{language}">' in html and words in html


def test_the_page_works_without_javascript_and_labels_its_fields() -> None:
    html = page("es")
    assert "<script" not in html
    assert html.count('<form class="offer" method="post" action="../choose"') == 4
    for field_id in re.findall(r'<input type="date" id="([^"]+)"', html):
        assert f'<label for="{field_id}">' in html
    assert 'name="viewport"' in html


def test_text_from_the_bank_is_escaped() -> None:
    html = page("en", product='<script>alert("x")</script>')
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_refusal_page_says_why_in_the_language_asked() -> None:
    status, body = message_page("pt", "expired")
    assert status == 410 and "Este link expirou" in body.decode()


def linked_driver(links: PortalLinks | None) -> Driver:
    orchestrator = Orchestrator(load_strategy(), _TEMPLATES)
    orchestrator.links = links
    d = Driver(orchestrator=orchestrator)
    d.event(profile(-40))
    d.event(opened(-30))
    return d


def test_a_message_carries_its_own_link_the_same_on_every_rendering() -> None:
    links = PortalLinks("https://pay.example.com/", KEYS, 86_400_000)
    trigger = missed(1, 0, when=0.1)
    first = linked_driver(links).event(trigger)
    again = linked_driver(links).event(trigger)  # a replay decides the same
    assert [c.body for c in first] == [c.body for c in again] and first
    cmd = first[0]
    found = re.search(r"https://pay\.example\.com/p/([A-Za-z0-9_-]+)", cmd.body or "")
    assert found, cmd.body
    token = verify(found.group(1), KEYS, "open", int(cmd.not_before.timestamp() * 1000))
    assert (token.debtor_id, token.dispatch_id, token.channel) == (
        DEBTOR,
        cmd.dispatch_id,
        cmd.channel,
    )
    assert token.expires_at == int(cmd.not_before.timestamp() * 1000) + 86_400_000


def test_without_a_portal_a_message_has_no_link_sentence() -> None:
    (cmd, *_) = linked_driver(None).event(missed(1, 0, when=0.1))
    assert "/p/" not in (cmd.body or "") and "opciones" not in (cmd.body or "")


def test_a_payment_url_with_an_unknown_placeholder_is_refused_at_start() -> None:
    def never(_: object) -> bool:
        raise AssertionError("nothing is published at start")

    with pytest.raises(ValueError, match=r"\{account_id\}, \{amount_minor\} and \{currency\}"):
        Portal(load_strategy(), KEYS, None, never, payment_url="https://b.example/{debtor}")  # type: ignore[arg-type]


def test_the_stream_workers_orchestrator_mints_links_only_when_a_portal_is_configured(
    tmp_path: Path,
) -> None:
    from streams.debtor_view import build_orchestrator

    assert build_orchestrator(Settings(state_dir=tmp_path)).links is None
    configured = Settings(
        state_dir=tmp_path, portal_base_url="https://pay.example.com", portal_key=SecretStr("k")
    )
    links = build_orchestrator(configured).links
    assert isinstance(links, PortalLinks) and links.keys == KEYS


@pytest.mark.parametrize(
    "form", [b"", b"t=", b"t=%FF%FE", b"a=1&b=2&c=3&d=4&e=5", b"t=" + b"A" * 3000]
)
def test_a_form_that_is_not_ours_gets_the_invalid_page(form: bytes) -> None:
    def never(_: object) -> bool:
        raise AssertionError("nothing is published for a refused form")

    portal = Portal(load_strategy(), KEYS, None, never)  # type: ignore[arg-type]
    page = portal.choose(form, "pt-BR,pt;q=0.9")
    assert page.status == 400 and b'data-outcome="invalid"' in page.body
    assert b'lang="pt"' in page.body
