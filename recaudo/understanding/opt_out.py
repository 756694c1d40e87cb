"""Opt-out is a legal obligation, so it is decided on the safe side: a message
is an opt-out when the classifier gives opt-out even a modest probability, or
when it contains an unmistakable stop request, whatever else it says."""

from __future__ import annotations

import re

from recaudo.contracts.records import Channel
from recaudo.understanding.corpus import strip_accents
from recaudo.understanding.types import OptOutScope

#: P(opt_out) at or above which a message is an opt-out even when another
#: intent is more likely (chosen by cross-validation on the training split).
OPT_OUT_THRESHOLD = 0.05

# The carriers' and channels' own stop keywords, as a whole message or sentence.
_KEYWORD = re.compile(
    r"^\W*(stop|stopall|baja|alto|sair|parar|pare|cancelar|unsubscribe|cancel|quit|end|optout|"
    r"opt out|remover|descadastrar|desuscribir|desuscribirme|desinscribir)"
    r"\W*(por favor|please|pls|plz|pfv|porfa)?\W*$"
)
# Explicit requests to stop being contacted, anywhere in a message.
_REQUEST = re.compile(
    r"\b(?:"
    # es
    r"no me (?:vuelvan a |sigan )?(?:escriban|llamen|contacten|manden|envien|molesten|"
    r"busquen|marquen)|dejen de (?:llamar|escribir|contactar|mandar|enviar|molestar|acosar)|"
    r"(?:denme|dame|darme|quiero darme|me doy) de baja|"
    r"ni (?:un|una) (?:mensaje|sms|llamada|correo|whatsapp|mensajito) mas|"
    r"(?:eliminen|eliminar|borren|borrar|quiten|quitar|supriman) (?:mi|mis) "
    r"(?:numero|telefono|celular|correo|contacto|datos?)|no quiero (?:recibir )?mas "
    r"(?:mensajes|llamadas|correos|sms|whatsapp)|(?:borrenme|saquenme|eliminenme|sacarme) de|"
    r"(?:dejenme|dejame|dejeme) en paz|olvidense de mi|"
    r"no autorizo (?:que me contacten|el contacto)|retiro (?:mi )?(?:autorizacion|consentimiento)|"
    # pt
    r"(?:pare|parem|para) de me (?:mandar|ligar|enviar|contatar|contactar|incomodar|ligarem)|"
    r"(?:pare|parem|para) de (?:mandar|ligar|enviar) |nao me (?:mandem|liguem|contatem|enviem|"
    r"perturbem|mande|ligue)|me (?:tira|tirem|remova|removam|descadastr\w*) d[aoe]|"
    r"nao quero (?:mais )?receber (?:mais )?(?:mensage\w*|ligac\w*|emails?|sms)|"
    r"(?:me deixa|me deixem|deixa[- ]me|deixem[- ]me) em paz|me esquecam?\b|me esquecem?\b|"
    r"esquec[ae]m? de mim|descadastr\w*|"
    r"nem mais (?:uma|um) (?:mensage\w*|ligac\w*|sms|e-?mail|zap)|"
    r"(?:apaguem|apague|apagar|removam|remova|remover|remove|excluam|exclua|excluir|tirem) "
    r"(?:o |os )?(?:meu|meus) (?:numero|telefone|celular|e-?mail|contato|dados)|"
    # en
    r"stop (?:texting|calling|messaging|emailing|contacting|sending)|"
    r"(?:do not|don'?t|dont|never) (?:text|call|contact|email|message|whatsapp)\b|"
    r"(?:do not|don'?t|dont) (?:wish|want) to (?:receive|get) (?:any )?(?:further |more )?"
    r"(?:communications?|messages|texts|calls|e-?mails)|"
    r"not (?:one|a single) more (?:message|text|call|e-?mail)|leave me alone|"
    r"(?:take|remove) me (?:off|from)|unsubscribe me|opt me out|"
    r"(?:delete|remove|erase) my (?:number|phone|e-?mail|contact|details|info|data)|"
    r"(?:revoke|withdraw) (?:my )?consent|cease and desist"
    r")"
)

_CHANNEL_WORDS: tuple[tuple[Channel, re.Pattern[str]], ...] = (
    ("voice", re.compile(r"\b(llam\w*|marque\w*|lig\w*|call\w*|phone|telefono)\b")),
    ("whatsapp", re.compile(r"\b(whats\w*|wsp|wpp|zap|zapzap)\b")),
    ("email", re.compile(r"\b(correos?|e-?mails?|mails?)\b")),
    ("sms", re.compile(r"\b(sms|texts?|texting|mensajit\w*)\b")),
)
# Words asking to stop every contact, on any channel.
_ALL = re.compile(
    r"\b(contact\w*|contat\w*|molest\w*|perturb\w*|bother\w*|harass\w*|acos\w*|assedi\w*|"
    r"ningun|nenhum|any means|all communication|leave me alone|"
    r"en paz|em paz|esquec\w*|olvidense|base de datos|lista|list|"
    r"nunca mais|never|nada|nothing|anything|busquen)\b"
)


def _fold(text: str) -> str:
    return strip_accents(text.lower()).strip()


_SENTENCES = re.compile(r"[.,;:!?¡¿\n]+")


def _keyword(folded: str) -> bool:
    """Whether the message, or one sentence of it, is a bare stop keyword."""
    return any(_KEYWORD.match(part) for part in (folded, *_SENTENCES.split(folded)))


def explicit_opt_out(text: str) -> bool:
    """Whether the message is a stop keyword (or has one as a sentence of its
    own) or contains an explicit request to stop contact."""
    folded = _fold(text)
    return bool(_keyword(folded) or _REQUEST.search(folded))


def opt_out_scope(text: str) -> tuple[OptOutScope, tuple[Channel, ...]]:
    """Which contact to stop: ``all`` when the debtor asks for no contact at all
    or names no channel; ``channel`` (the one written from, or those named)
    for a stop keyword or a request that names channels ("no me llamen")."""
    folded = _fold(text)
    named = tuple(channel for channel, pattern in _CHANNEL_WORDS if pattern.search(folded))
    if _ALL.search(folded):
        return "all", ()
    if named:
        return "channel", named
    if _keyword(folded) or re.search(r"\b(mensa\w*|msgs?|escrib\w*|messages?)\b", folded):
        return "channel", ()
    return "all", ()
