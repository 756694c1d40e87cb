"""What the debtor wrote, out of replies as es, pt and en mail clients format them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.inbound_email.quotes import html_text, strip_reply

GMAIL_ES = """Pago el viernes 200 mil.
Gracias

El lun, 7 dic 2026 a las 10:02, Banco Ejemplo (<cobranza@banco.example>)
escribió:

> Estimada Ana, su cuota de $100 vence el viernes.
> Saludos
"""

GMAIL_PT = """Vou pagar dia 15.

Em seg., 7 de dez. de 2026 às 10:02, Banco Exemplo <cobranca@banco.example> escreveu:

> Prezada Ana, sua parcela vence sexta.
"""

APPLE_EN = """Can I pay in 3 instalments?

Sent from my iPhone

> On Dec 7, 2026, at 10:02, Bank <collections@bank.example> wrote:
>
> Dear Ana, your instalment is due on Friday.
"""

OUTLOOK_ES = """No es mi deuda.

-----Mensaje original-----
De: Banco Ejemplo <cobranza@banco.example>
Enviado: lunes, 7 de diciembre de 2026 10:02
Asunto: Su cuota
"""

OUTLOOK_HEADERS_PT = """Já paguei ontem.

De: Banco Exemplo <cobranca@banco.example>
Enviado: segunda-feira, 7 de dezembro de 2026 10:02
Para: Ana
"""

# RFC 3676's separator is "-- " with its trailing space.
SIGNED_EN = "Please call me instead.\n-- \nAna Pérez\nAcme Corp\n"

INLINE_QUOTE = """> Your balance is $1,500.
That's wrong, I paid $500 last week.
> Please pay by Friday.
I can't."""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (GMAIL_ES, "Pago el viernes 200 mil.\nGracias"),
        (GMAIL_PT, "Vou pagar dia 15."),
        (APPLE_EN, "Can I pay in 3 instalments?"),
        (OUTLOOK_ES, "No es mi deuda."),
        (OUTLOOK_HEADERS_PT, "Já paguei ontem."),
        (SIGNED_EN, "Please call me instead."),
        (INLINE_QUOTE, "That's wrong, I paid $500 last week.\nI can't."),
        ("On it, I will pay tomorrow", "On it, I will pay tomorrow"),
        ("El viernes pago\nsin falta", "El viernes pago\nsin falta"),
        ("STOP\r\n\r\nOn Mon, Bank wrote:\r\n> hi", "STOP"),
    ],
    ids=[
        "gmail-es-wrapped",
        "gmail-pt",
        "apple-en-mobile-footer",
        "outlook-es-separator",
        "outlook-pt-header-block",
        "signature",
        "inline-quotes",
        "on-is-not-an-attribution",
        "el-is-not-an-attribution",
        "crlf",
    ],
)
def test_strip_reply_keeps_what_the_debtor_wrote(raw: str, expected: str) -> None:
    assert strip_reply(raw) == expected


def test_html_only_reply_leaves_out_the_blockquote() -> None:
    html = (
        "<div dir='ltr'>Pago el <b>viernes</b>.<br></div>"
        "<div class='gmail_quote'><blockquote>Su cuota vence</blockquote></div>"
    )
    assert strip_reply(html_text(html)) == "Pago el viernes."


_line = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).filter(
    lambda s: not s.lstrip().startswith(">")
)


@given(st.lists(_line, max_size=6), st.lists(_line, max_size=6))
def test_nothing_after_an_attribution_is_kept(own: list[str], quoted: list[str]) -> None:
    reply = strip_reply("\n".join([*own, "On Mon, 7 Dec 2026, Bank wrote:", *quoted]))
    assert reply == strip_reply("\n".join(own))
    assert "wrote:" not in reply
