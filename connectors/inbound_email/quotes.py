"""What the debtor wrote in an email reply, without the quoted original or
the signature. Pure text rules, applied line by line; the first rule that
marks the start of the quoted or signed part ends the reply:

1. an attribution line, on one line or wrapped onto the next:
   ``On <date>, <name> wrote:`` (en), ``El <date>, <name> escribió:`` (es),
   ``Em <date>, <name> escreveu:`` (pt);
2. a forwarded-original separator: ``-----Original Message-----``,
   ``-----Mensaje original-----``, ``-----Mensagem original-----``, or an
   Outlook header block (``From:``/``De:`` followed by ``Sent:``/``Enviado:``
   or ``Date:``/``Fecha:``/``Data:`` on the next lines);
3. the signature separator ``-- `` (RFC 3676; also without its trailing space);
4. a mobile footer: ``Sent from my …``, ``Enviado desde mi …``,
   ``Enviado do meu …``, ``Enviado de mi …``, ``Get Outlook for …``.

Lines starting with ``>`` (quoted, any depth) are dropped wherever they are;
blank lines at either end are trimmed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_ATTRIBUTION = re.compile(
    r"^\s*(on\s.+\swrote|el\s.+\sescribi[oó]|em\s.+\sescreveu)\s*:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ATTRIBUTION_START = re.compile(r"^\s*(on|el|em)\s", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|mensaje original|mensagem original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(from|de)\s*:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(sent|enviado|date|fecha|data|to|para)\s*:\*?\s", re.IGNORECASE)
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^\s*(sent from my|enviado desde mi|enviado do meu|enviado de mi|get outlook for)\b",
    re.IGNORECASE,
)


def _starts_quote(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _SIGNATURE.match(line) or _SEPARATOR.match(line) or _MOBILE.match(line):
        return True
    if _ATTRIBUTION.match(line):
        return True
    following = lines[i + 1] if i + 1 < len(lines) else None
    if following is None:
        return False
    # Clients wrap a long attribution: "On Mon, 7 Dec 2026 at 10:02, Banco\n<x@y> wrote:"
    if _ATTRIBUTION_START.match(line) and _ATTRIBUTION.match(line + " " + following):
        return True
    return bool(_HEADER_FROM.match(line) and _HEADER_NEXT.match(following))


def strip_reply(text: str) -> str:
    """The reply's own text (see the module's rules)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _starts_quote(lines, i):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


class _Text(HTMLParser):
    """The text of an HTML body, leaving out quoted blocks and scripts."""

    _SKIP = frozenset({"blockquote", "script", "style", "head"})
    _BREAK = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    """Plain text of an HTML-only reply (quoted ``<blockquote>`` left out)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.split("\n")))
