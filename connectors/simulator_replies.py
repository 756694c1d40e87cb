"""What a simulated debtor writes back: varied natural language that reacts to
what it was sent.

Pure logic with an injected :class:`random.Random`: the same persona, message,
history and generator state give the same text. A reply is composed from
independent fragments (an optional greeting or regional word, one core phrase
of the intended meaning, its details: a date, an amount in local notation, a
number of instalments; an optional closing and emoji) and then roughened the
way people type (no accents, all lower or upper case, doubled letters, a typo
outside the core phrase), so one meaning rarely produces the same string
twice.

The phrase bank below is written for the simulator alone, independently of
the classifier's training corpus (``recaudo/understanding/corpus/``): the demo
then measures the classifier on text it never trained on.

A debtor's hidden :data:`Disposition` decides what they mean; the message
decides how they react. A dispatch is recognised as a conversation reply when
its template id names a reply kind of ``recaudo.conversation.replies`` (alone
or as one part of an id separated by ``.``, ``:`` or ``/``, such as
``plan_offer``, ``conversation.plan_offer`` or ``reply:plan_offer``); its
variables are read when present (``amount``, ``balance``, ``instalments``,
``instalment``, ``last_instalment``, ``max_instalments``, ``due_date``) and
ignored when missing or malformed. Anything else is an outreach, answered with
the debtor's opening line.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Final, Literal, get_args

from recaudo.contracts.money import MINOR_UNITS
from recaudo.understanding.types import Intent

Disposition = Literal[
    "will_pay",
    "wants_plan",
    "hardship",
    "disputes",
    "wrong_person",
    "leave_alone",
    "abusive",
    "asks_human",
    "silent",
]
DISPOSITIONS: Final[tuple[Disposition, ...]] = get_args(Disposition)
Language = Literal["es", "pt", "en"]
REPLY_LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)


@dataclass(frozen=True, slots=True)
class Speaker:
    """The hidden side of a simulated debtor."""

    language: Language
    disposition: Disposition
    #: The share of what they owe they can pay per period (1.0: all of it at once).
    capacity: float

    @property
    def instalments_needed(self) -> int:
        """The fewest instalments whose each one they can pay."""
        return max(1, math.ceil(1 / self.capacity - 1e-9))


@dataclass(frozen=True, slots=True)
class Said:
    """One earlier reply of the same debtor (newest last in a history)."""

    kind: str
    intent: Intent
    text: str


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    #: What the text means, in the classifier's intents.
    intent: Intent
    #: It accepts the offer it answers.
    accepts: bool = False
    #: Instalments it asks for or accepts, when it names them.
    instalments: int | None = None


# --- what a message is ---------------------------------------------------------------

#: The dialogue's reply kinds this module reacts to (``recaudo.conversation.replies``).
QUESTIONS: Final = frozenset({"ask_promise_date", "ask_instalments", "balance", "clarify"})
OFFERS: Final = frozenset({"promise_counter", "plan_offer", "plan_counter", "settlement_offer"})
CLOSINGS: Final = frozenset(
    {
        "promise_confirmed",
        "plan_confirmed",
        "settlement_confirmed",
        "opt_out_confirmed",
        "wrong_person",
        "dispute_received",
        "handoff",
        "already_paid",
        "thanks",
        "nothing_owed",
        "pay_now",
        # A person's own words from the agent desk: read like any closing.
        "agent_reply",
    }
)
REPLY_KINDS: Final = QUESTIONS | OFFERS | CLOSINGS
OUTREACH: Final = "outreach"


def kind_of(template: str) -> str:
    """The reply kind a template id names, else :data:`OUTREACH`."""
    parts = re.split(r"[.:/]", template.strip())
    return next((p for p in reversed(parts) if p in REPLY_KINDS), OUTREACH)


_MONEY = re.compile(r"([A-Z]{3})\s*(-?[\d,]+(?:\.\d+)?)")


def parse_money(value: str | None) -> tuple[str, int] | None:
    """``"COP 150,000.00"`` (recaudo's format) -> ``("COP", 15000000)``; None if not money."""
    match = _MONEY.search(value or "")
    if match is None:
        return None
    currency, number = match.group(1), match.group(2).replace(",", "")
    exponent = MINOR_UNITS.get(currency, 2)
    try:
        whole, _, frac = number.lstrip("-").partition(".")
        minor = int(whole or "0") * 10**exponent + int((frac + "0" * exponent)[:exponent] or "0")
    except ValueError:
        return None
    return currency, minor


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


# --- the phrase bank -------------------------------------------------------------------
# Core phrases carry the meaning; {date}, {amount} and {n} are filled from details.
# Every core phrase is unique to its intent within a language (a test checks it):
# :func:`simulated_intent` finds a reply's meaning by its core phrase.

CORE: Final[dict[Language, dict[Intent, tuple[str, ...]]]] = {
    "es": {
        "promise_to_pay": (
            "le pago {date}",
            "{date} le hago el pago",
            "{date} sin falta le consigno",
            "me comprometo a pagar {date}",
            "puedo pagar {amount} {date}",
            "{date} cancelo {amount}",
            "deme hasta {date} y pago",
            "{date} le deposito",
            "este viernes le cumplo con el pago",
            "el lunes pago",
            "{date} transfiero lo que debo",
            "cuente con el pago {date}",
            "{date} me pagan y le abono {amount}",
            "voy a pagar {date}",
        ),
        "pay_now": (
            "como hago para pagar?",
            "en que banco puedo pagar",
            "pásenme el link de pago",
            "quiero pagar ya, por donde?",
            "a que cuenta deposito?",
            "me manda los datos para transferir",
            "tiene un numero de cuenta?",
        ),
        "ask_balance": (
            "cuanto es que debo?",
            "cuánto es lo que debo en total",
            "me dice el saldo por favor",
            "a cuanto asciende la deuda?",
            "cual es mi saldo pendiente",
            "cuanto llevo atrasado",
        ),
        "ask_plan": (
            "quiero un plan",
            "se puede pagar en cuotas?",
            "puedo pagar en {n} cuotas?",
            "me lo dividen en {n} cuotas",
            "necesito un acuerdo de pago",
            "hagamos un convenio en {n} pagos",
            "lo puedo diferir a {n} meses?",
            "mejor en {n} cuotas",
            "en {n} cuotas me queda bien",
            "me sirve un plan de pagos",
            "financienme la deuda porfa",
        ),
        "cannot_pay_full": (
            "no me da para pagarlo todo",
            "todo junto no puedo",
            "solo puedo dar {amount}",
            "el total no lo reúno",
            "esa plata completa no la tengo",
            "no puedo pagar este mes",
            "ahora no tengo dinero",
            "eso es mucho para mi",
        ),
        "hardship": (
            "me quedé sin chamba desde octubre",
            "perdi el empleo hace dos meses",
            "estoy enfermo y sin ingresos",
            "me operaron y no he podido trabajar",
            "estoy desempleado, no tengo como",
            "mi esposo falleció y estoy sola con todo",
            "me echaron de la empresa",
            "tuve un accidente y estoy incapacitado",
        ),
        "already_paid": (
            "ya pagué eso hace rato",
            "ya pague todito",
            "ya realicé el pago",
            "pagué ayer",
            "eso lo cancelé hace días",
            "ya les hice la transferencia",
            "el pago lo hice la semana pasada",
            "ya consigné, revisen",
            "ya me puse al dia",
        ),
        "dispute": (
            "ese monto está mal",
            "no reconozco ese cobro",
            "me cobraron de más en este mes",
            "esos intereses no son",
            "el valor no corresponde",
            "hay un error en la cuenta",
        ),
        "not_my_debt": (
            "yo con ustedes no tengo deudas",
            "esa deuda no es de mi persona",
            "nunca saqué esa tarjeta",
            "yo no pedí ningún crédito",
        ),
        "wrong_person": (
            "tiene el número equivocado",
            "se equivocaron de persona conmigo",
            "no conozco a ningun fulano con ese nombre",
            "en esta casa no vive nadie asi",
            "este no es el numero de quien buscan",
            "yo no soy esa persona",
            "compré esta línea hace poco, no es quien buscan",
        ),
        "opt_out": (
            "no me escriban más a este número",
            "BAJA",
            "STOP",
            "dejen de escribirme ya",
            "no quiero recibir mas mensajes de cobro",
            "sáquenme de su lista",
            "no me manden más mensajitos",
            "no me contacten nunca más",
            "ya les dije que no me escriban",
            "por favor no me vuelvan a mandar nada",
        ),
        "ask_human": (
            "quiero hablar con un asesor de carne y hueso",
            "páseme con una persona",
            "necesito hablar con alguien de verdad",
            "me puede llamar un agente?",
            "quiero que me atienda un humano",
            "comuníqueme con un funcionario",
        ),
        "thanks_ack": (
            "sí, dale",
            "listo pues",
            "de acuerdo, así quedamos",
            "perfecto, acepto",
            "ok, me sirve",
            "sí confirmo",
            "bueno, trato hecho",
            "sí, acepto las {n} cuotas",
            "va, de acuerdo con las {n} cuotas",
            "mil gracias por todo",
            "ok, gracias por avisarme",
        ),
        "abusive": (
            "son unos ladrones de cuello blanco",
            "dejen de joder, sinvergüenzas",
            "váyanse al carajo con sus cobros",
            "banco de porquería",
            "partida de rateros",
        ),
    },
    "pt": {
        "promise_to_pay": (
            "pago {date}",
            "{date} eu pago",
            "{date} faço o pagamento",
            "prometo pagar {date}",
            "consigo pagar {amount} {date}",
            "{date} acerto {amount}",
            "me dá até {date} que eu pago",
            "{date} deposito sem falta",
            "pago sem falta na sexta",
            "vou pagar {date}",
            "{date} recebo e pago {amount}",
            "pode contar com o pagamento {date}",
        ),
        "pay_now": (
            "como que eu faço pra pagar?",
            "onde eu pago",
            "me manda o boleto atualizado",
            "manda o pix que eu pago agora",
            "qual é a chave pix de vocês?",
            "quero pagar hoje, me passa o código de barras",
        ),
        "ask_balance": (
            "quanto que eu to devendo?",
            "qual o valor total da dívida",
            "me fala o saldo por favor",
            "de quanto é o débito?",
            "quanto está em atraso",
        ),
        "ask_plan": (
            "quero um parcelamento",
            "posso pagar em parcelas?",
            "dá pra parcelar em {n}x?",
            "parcela em {n} vezes",
            "preciso de um acordo",
            "faz em {n} parcelas pra mim",
            "consigo em {n} parcelas",
            "tem como parcelar?",
            "quero negociar em {n} vezes",
        ),
        "cannot_pay_full": (
            "não consigo quitar tudo de uma vez",
            "o valor todo não tenho",
            "só consigo {amount}",
            "à vista não dá",
            "não consigo pagar este mês",
            "estou sem dinheiro",
            "tá muito caro pra mim",
        ),
        "hardship": (
            "fiquei desempregado em setembro",
            "perdi meu emprego e tô me virando",
            "estou doente e sem renda",
            "fui demitida mês passado",
            "tô encostado pelo INSS, sem salário",
            "minha mãe está internada e gastei tudo",
            "sofri um acidente e não posso trabalhar",
        ),
        "already_paid": (
            "já paguei isso faz tempo",
            "ja paguei tudinho",
            "paguei ontem",
            "já fiz o pix pra vocês",
            "o boleto já foi pago na lotérica",
            "quitei semana passada",
            "já está pago, confere aí",
        ),
        "dispute": (
            "esse valor está errado",
            "não reconheço essa cobrança de jeito nenhum",
            "tão me cobrando a mais",
            "esses juros estão errados",
            "tem erro nessa conta",
        ),
        "not_my_debt": (
            "eu não devo nada pra vocês",
            "essa dívida não é minha não",
            "nunca fiz cartão com vocês",
            "não contratei esse empréstimo",
        ),
        "wrong_person": (
            "é número errado",
            "não conheço essa pessoa não",
            "vocês erraram de pessoa",
            "não sou eu, engano",
            "esse número agora é meu, não é de quem vocês procuram",
            "aqui ninguém tem esse nome",
        ),
        "opt_out": (
            "SAIR",
            "PARAR",
            "pare de me mandar mensagem todo dia",
            "não quero mais receber mensagens de cobrança",
            "me tira dessa lista",
            "não me mandem mais nada por aqui",
            "parem de me mandar mensagens",
            "não me escrevam mais",
            "chega de mensagem, me descadastra",
        ),
        "ask_human": (
            "quero falar com um atendente agora",
            "me passa pra uma pessoa",
            "preciso falar com alguém de verdade",
            "pode me ligar um atendente?",
            "quero ser atendido por um humano",
        ),
        "thanks_ack": (
            "sim, pode ser",
            "fechado",
            "combinado então",
            "ok, aceito",
            "beleza, tá ótimo",
            "sim, confirmo",
            "aceito as {n} parcelas",
            "sim, fechado em {n} parcelas",
            "muito obrigado pela ajuda",
            "valeu, obrigada",
        ),
        "abusive": (
            "vocês são uns ladrões sem vergonha",
            "vão pro inferno com essa cobrança",
            "que empresa lixo",
            "bando de safados",
        ),
    },
    "en": {
        "promise_to_pay": (
            "I'll pay {date}",
            "I will pay on Friday",
            "I'll have it paid on Friday",
            "will pay {date}",
            "I can pay {amount} {date}",
            "{date} I'll send {amount}",
            "give me until {date} and I'll pay",
            "I get paid {date}, will pay then",
            "you'll have the payment {date}",
            "I promise to pay {date}",
        ),
        "pay_now": (
            "how do I go about paying?",
            "where can I pay",
            "text me the link to pay",
            "I want to pay now, what are the bank details",
            "can I pay with a debit card?",
        ),
        "ask_balance": (
            "how much do I owe you guys?",
            "what's my balance right now",
            "what is the total I owe",
            "how much of it is overdue",
        ),
        "ask_plan": (
            "I want a payment plan",
            "can I pay in instalments?",
            "can I pay in {n} installments?",
            "could we split it into {n} payments",
            "I need some kind of payment arrangement",
            "{n} monthly payments would work for me",
            "can we do {n} payments instead",
        ),
        "cannot_pay_full": (
            "I can't cover it all at once",
            "I can't pay this month",
            "no money right now",
            "I only have {amount}",
            "the full amount is too much for me",
            "can't afford the whole thing",
        ),
        "hardship": (
            "I lost my job in March",
            "I got laid off last month",
            "I'm sick and out of work",
            "I'm stuck in the hospital right now",
            "I've been unemployed since spring",
            "my hours got cut and I'm barely getting by",
        ),
        "already_paid": (
            "I already paid this off",
            "paid yesterday",
            "I made the payment last week",
            "it's already been paid",
            "I sent the transfer this morning",
        ),
        "dispute": (
            "that amount is wrong",
            "I don't recognise this charge",
            "you guys are overcharging me",
            "those fees are not right",
        ),
        "not_my_debt": (
            "this is not my debt",
            "I never opened that account",
            "I don't owe you people a thing",
        ),
        "wrong_person": (
            "you've got the wrong number",
            "you have the wrong person",
            "I don't know who that is",
            "no one by that name lives at this address",
            "this isn't their number anymore",
        ),
        "opt_out": (
            "STOP",
            "UNSUBSCRIBE",
            "stop texting me already",
            "take me off your mailing list",
            "don't message me again",
            "please stop contacting me",
            "unsubscribe me from this",
            "quit sending me these",
        ),
        "ask_human": (
            "I want to talk to an actual person",
            "can I speak to an agent",
            "get me a real human",
            "please have someone call me",
            "let me talk to a representative",
        ),
        "thanks_ack": (
            "yes, that works",
            "ok deal",
            "sure, I accept",
            "yes please",
            "sounds good to me",
            "yes, {n} payments is fine",
            "ok, I'll take the {n} instalments",
            "thank you so much",
            "ok, thanks for the help",
        ),
        "abusive": (
            "you're a bunch of crooks",
            "go to hell with your calls",
            "scammers, all of you",
            "what a garbage company",
        ),
    },
}

GREETINGS: Final[dict[Language, tuple[str, ...]]] = {
    "es": ("hola", "buenas", "buenos días", "buenas tardes", "buenas noches", "ola", "holi"),
    "pt": ("oi", "olá", "bom dia", "boa tarde", "boa noite", "e aí", "opa"),
    "en": ("hi", "hello", "hey", "good morning", "good afternoon"),
}
#: Regional words: Colombia, Argentina, Mexico, Chile, Peru; Brazil's regions.
REGIONAL: Final[dict[Language, tuple[str, ...]]] = {
    "es": ("parce", "che", "oiga", "mire", "vea", "pues", "wey", "po", "causa"),
    "pt": ("mano", "cara", "tchê", "uai", "oxe", "moço", "meu rei"),
    "en": ("look", "listen", "mate", "so"),
}
SIGN_OFFS: Final[dict[Language, tuple[str, ...]]] = {
    "es": ("saludos", "bendiciones", "quedo atento", "atte.", "feliz día"),
    "pt": ("abraço", "att", "fico no aguardo", "abs", "bjs"),
    "en": ("regards", "cheers", "best", "cheers mate"),
}
EMOJI: Final[dict[str, tuple[str, ...]]] = {
    "positive": ("👍", "🙂", "🙏", "✅", "😊"),
    "negative": ("😔", "😞", "🙏", "😢"),
    "angry": ("😡", "🤬", "😤"),
    "neutral": ("🙂", "🤔", "😅"),
}
MOOD: Final[dict[Intent, str]] = {
    "thanks_ack": "positive",
    "promise_to_pay": "positive",
    "pay_now": "positive",
    "already_paid": "neutral",
    "hardship": "negative",
    "cannot_pay_full": "negative",
    "ask_plan": "negative",
    "abusive": "angry",
    "dispute": "angry",
    "not_my_debt": "angry",
    "opt_out": "angry",
}

WEEKDAYS: Final[dict[Language, tuple[str, ...]]] = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado"),
    "pt": ("segunda", "terça", "quarta", "quinta", "sexta", "sábado"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"),
}


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def date_phrase(language: Language, rng: random.Random, on: date | None = None) -> str:
    """A date the way a debtor writes it: a weekday, a day of the month, "a fin de mes"."""
    day = on.day if on is not None else rng.randint(1, 28)
    weekday = rng.choice(WEEKDAYS[language])
    if language == "es":
        options = [
            f"el {weekday}",
            f"este {weekday}",
            "mañana",
            "a fin de mes",
            f"el {day}",
            f"el dia {day}",
            "la próxima semana",
            f"el {day}/{on.month if on else rng.randint(1, 12)}",
            "pasado mañana",
            "en la quincena",
        ]
    elif language == "pt":
        options = [
            f"na {weekday}" if weekday != "sábado" else "no sábado",
            f"dia {day}",
            "amanhã",
            "no fim do mês",
            "semana que vem",
            f"até dia {day}",
            f"{day}/{on.month if on else rng.randint(1, 12)}",
            "depois de amanhã",
        ]
    else:
        options = [
            f"on {weekday}",
            f"next {weekday}",
            "tomorrow",
            "by the end of the month",
            f"on the {_ordinal(day)}",
            "next week",
            f"this {weekday}",
        ]
    if on is not None and rng.random() < 0.7:
        # Naming the day offered, so the answer fits the offer.
        return {"es": f"el {day}", "pt": f"dia {day}", "en": f"on the {_ordinal(day)}"}[language]
    return rng.choice(options)


def amount_phrase(language: Language, currency: str, minor: int, rng: random.Random) -> str:
    """An amount in the debtor's own notation: "200 mil", "R$ 150,00", "$1,500"."""
    major = minor / 10 ** MINOR_UNITS.get(currency, 2)
    whole = round(major)
    dotted = f"{whole:,}".replace(",", ".")
    symbol = "R$" if currency == "BRL" else "$"
    if language == "en":
        options = [f"${whole:,}", f"{whole} dollars", f"${major:,.2f}", f"{currency} {whole:,}"]
    elif language == "pt":
        cents = f"{major:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
        options = [f"{symbol} {cents}", f"{symbol}{whole}", f"{whole} reais", f"{dotted}"]
    else:
        options = [f"${dotted}", f"{dotted} pesos", f"{whole}", f"{symbol} {dotted}"]
    if whole >= 10_000 and whole % 1000 == 0 and language != "en":
        options.append(f"{whole // 1000} mil")
    if whole >= 1000 and language == "en" and whole % 1000 == 0:
        options.append(f"{whole // 1000}k")
    return rng.choice(options)


def share_phrase(language: Language, rng: random.Random) -> str:
    return rng.choice(
        {
            "es": ("la mitad", "una parte", "algo"),
            "pt": ("metade", "uma parte", "um pouco"),
            "en": ("half", "part of it", "some of it"),
        }[language]
    )


# --- composing ------------------------------------------------------------------------

_ACCENTS: Final = str.maketrans("áéíóúâêôãõàçÁÉÍÓÚÂÊÔÃÕÀÇñÑüÜ", "aeiouaeoaoacAEIOUAEOAOACnNuU")


def _typo(word: str, rng: random.Random) -> str:
    """One slip of the thumb: a letter dropped, doubled or swapped."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    how = rng.randrange(3)
    if how == 0:
        return word[:i] + word[i + 1 :]
    if how == 1:
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def _roughen(fragment: str, rng: random.Random) -> str:
    words = fragment.split(" ")
    if rng.random() < 0.25:
        i = rng.randrange(len(words))
        words[i] = _typo(words[i], rng)
    if rng.random() < 0.15 and words[-1][-1:].isalpha():
        words[-1] = words[-1] + words[-1][-1] * rng.randint(1, 3)
    return " ".join(words)


def compose(
    language: Language,
    intent: Intent,
    rng: random.Random,
    *,
    date_text: str | None = None,
    amount_text: str | None = None,
    instalments: int | None = None,
    need: frozenset[str] = frozenset(),
    thanks: bool | None = None,
) -> str:
    """A text meaning ``intent``: one core phrase with the slots in ``need``
    (some of ``{"date", "amount", "n"}``), filled from the details given;
    ``thanks`` True or False keeps to the cores that thank or do not."""
    cores = CORE[language][intent]
    if thanks is not None:
        cores = tuple(c for c in cores if _thanks(c) == thanks)
    fitting = [c for c in cores if all("{" + slot + "}" in c for slot in need)]
    if not fitting:
        fitting = list(cores)
    fill = {
        "date": date_text or date_phrase(language, rng),
        "amount": amount_text or share_phrase(language, rng),
        "n": str(instalments or rng.randint(2, 6)),
    }
    chosen = rng.choice(fitting)
    core = chosen.format(**fill)
    # A detail asked for that the core has no slot for goes after it.
    if "date" in need and "{date}" not in chosen and date_text:
        core = f"{core} {date_text}"
    if "n" in need and "{n}" not in chosen and instalments:
        core = f"{core}, {_instalments_phrase(language, instalments, rng)}"
    parts: list[str] = []
    if rng.random() < 0.45:
        parts.append(_roughen(rng.choice(GREETINGS[language]), rng))
    if rng.random() < 0.15:
        parts.append(rng.choice(REGIONAL[language]))
    lead = ", ".join(parts)
    text = core
    if lead:
        text = f"{lead}{',' if rng.random() < 0.6 else ''} {core}"
    if rng.random() < 0.12:
        stop = " " if text[-1:] in "?!." else ". "
        text = f"{text}{stop}{_roughen(rng.choice(SIGN_OFFS[language]), rng)}"
    text += rng.choice(("", "", "", ".", "!", "!!", "...", " "))
    if rng.random() < 0.25:
        text += " " + rng.choice(EMOJI[MOOD.get(intent, "neutral")])
    roll = rng.random()
    if roll < 0.35:
        text = text.translate(_ACCENTS)
    if rng.random() < 0.3:
        text = text.lower()
    elif rng.random() < 0.04:
        text = text.upper()
    return re.sub(r" {2,}", " ", text).strip()


_THANKS: Final = ("gracias", "obrigad", "valeu", "thank")


def _thanks(core: str) -> bool:
    return any(word in core.casefold() for word in _THANKS)


def _instalments_phrase(language: Language, n: int, rng: random.Random) -> str:
    return rng.choice(
        {
            "es": (f"en {n} cuotas", f"{n} cuotas", f"a {n} meses"),
            "pt": (f"em {n} parcelas", f"{n}x", f"em {n} vezes"),
            "en": (f"in {n} instalments", f"{n} payments", f"over {n} months"),
        }[language]
    )


# --- reacting -------------------------------------------------------------------------

#: The intents a disposition opens with (weights), when first written to.
OPENERS: Final[dict[Disposition, tuple[tuple[Intent, float], ...]]] = {
    "will_pay": (
        ("promise_to_pay", 0.5),
        ("already_paid", 0.2),
        ("pay_now", 0.15),
        ("ask_balance", 0.15),
    ),
    "wants_plan": (("ask_plan", 0.55), ("cannot_pay_full", 0.3), ("ask_balance", 0.15)),
    "hardship": (("hardship", 0.7), ("cannot_pay_full", 0.3)),
    "disputes": (("dispute", 0.6), ("not_my_debt", 0.4)),
    "wrong_person": (("wrong_person", 1.0),),
    "leave_alone": (("opt_out", 1.0),),
    "abusive": (("abusive", 1.0),),
    "asks_human": (("ask_human", 1.0),),
    "silent": (),
}


def reply_to(
    speaker: Speaker,
    template: str,
    variables: Mapping[str, str],
    history: Sequence[Said],
    rng: random.Random,
) -> Reply | None:
    """What ``speaker`` writes back to a message of ``template`` with
    ``variables``, after ``history`` (their earlier replies), or None when
    they do not answer."""
    kind = kind_of(template)
    d = speaker.disposition
    if d == "silent" or any(s.intent == "opt_out" for s in history):
        return None  # having opted out, they never write again
    if kind in CLOSINGS:
        return _after_closing(speaker, kind, rng)
    if d in ("leave_alone", "wrong_person", "abusive", "asks_human", "disputes"):
        return _opener(speaker, rng, history)
    if kind == "ask_promise_date":
        if d == "will_pay":
            due = _date(variables.get("due_date"))
            text = compose(
                speaker.language,
                "promise_to_pay",
                rng,
                date_text=date_phrase(speaker.language, rng, due),
                need=frozenset({"date"}),
            )
            return Reply(text, "promise_to_pay")
        return _ask_plan(speaker, rng)
    if kind == "ask_instalments":
        most = _int(variables.get("max_instalments"))
        wanted = speaker.instalments_needed
        if d == "will_pay":
            wanted = 2
        # Asking for more than the bank allows is a negotiation: the dialogue counters.
        n = wanted if most is None or rng.random() < 0.6 else min(wanted, most)
        return _ask_plan(speaker, rng, max(2, n))
    if kind in ("plan_offer", "plan_counter"):
        return _plan_reaction(speaker, kind, variables, rng)
    if kind in ("promise_counter", "settlement_offer"):
        amount = parse_money(variables.get("amount"))
        balance = parse_money(variables.get("balance")) if kind == "settlement_offer" else None
        share = 1.0
        if amount and balance and balance[1] > 0:
            share = amount[1] / balance[1]
        if share <= speaker.capacity + 1e-9:
            return _accept(speaker, rng)
        return _ask_plan(speaker, rng)
    if kind == "balance" and d == "will_pay":
        due = _date(variables.get("due_date"))
        return _promise(speaker, rng, variables, due)
    return _opener(speaker, rng, history)


def _opener(speaker: Speaker, rng: random.Random, history: Sequence[Said]) -> Reply | None:
    openers = OPENERS[speaker.disposition]
    if not openers:
        return None
    intents = [i for i, _ in openers]
    intent = rng.choices(intents, [w for _, w in openers])[0]
    if intent == "promise_to_pay":
        return _promise(speaker, rng, {}, None)
    if intent == "ask_plan":
        return _ask_plan(speaker, rng, speaker.instalments_needed if rng.random() < 0.5 else None)
    text = compose(speaker.language, intent, rng)
    if history and text == history[-1].text:
        text = compose(speaker.language, intent, rng)
    return Reply(text, intent)


def _promise(
    speaker: Speaker, rng: random.Random, variables: Mapping[str, str], due: date | None
) -> Reply:
    money = parse_money(variables.get("amount"))
    amount = None
    need = {"date"}
    if money is not None and rng.random() < 0.3:
        amount = amount_phrase(speaker.language, money[0], money[1], rng)
        need.add("amount")
    text = compose(
        speaker.language,
        "promise_to_pay",
        rng,
        date_text=date_phrase(speaker.language, rng, due),
        amount_text=amount,
        need=frozenset(need) if rng.random() < 0.8 else frozenset(),
    )
    return Reply(text, "promise_to_pay")


def _ask_plan(speaker: Speaker, rng: random.Random, n: int | None = None) -> Reply:
    if n is None and rng.random() < 0.6:
        n = max(2, speaker.instalments_needed)
    text = compose(
        speaker.language,
        "ask_plan",
        rng,
        instalments=n,
        need=frozenset({"n"}) if n else frozenset(),
    )
    return Reply(text, "ask_plan", instalments=n)


def _accept(speaker: Speaker, rng: random.Random, n: int | None = None) -> Reply:
    need = frozenset({"n"}) if n and rng.random() < 0.4 else frozenset()
    text = compose(speaker.language, "thanks_ack", rng, instalments=n, need=need, thanks=False)
    return Reply(text, "thanks_ack", accepts=True, instalments=n)


def affordable(speaker: Speaker, instalment_minor: int, total_minor: int) -> bool:
    """Whether ``speaker`` can pay ``instalment_minor`` a period on a debt of ``total_minor``."""
    return total_minor > 0 and instalment_minor <= speaker.capacity * total_minor + 1e-6


def _plan_reaction(
    speaker: Speaker, kind: str, variables: Mapping[str, str], rng: random.Random
) -> Reply:
    n = _int(variables.get("instalments")) or 1
    each = parse_money(variables.get("instalment"))
    last = parse_money(variables.get("last_instalment")) or each
    if each is not None and last is not None and n >= 1:
        total = each[1] * (n - 1) + last[1]
        fits = affordable(speaker, max(each[1], last[1]), total)
    else:
        fits = n >= speaker.instalments_needed  # terms unreadable: judge by the count alone
    if fits:
        return _accept(speaker, rng, n)
    if kind == "plan_counter":
        # The bank's last word and still too much: a person has to look at it.
        intent: Intent = "hardship" if speaker.disposition == "hardship" else "ask_human"
        if rng.random() < 0.5:
            intent = "ask_human"
        return Reply(compose(speaker.language, intent, rng), intent)
    return _ask_plan(speaker, rng, speaker.instalments_needed)


def _after_closing(speaker: Speaker, kind: str, rng: random.Random) -> Reply | None:
    """Confirmations mostly get silence; now and then a thank-you."""
    agreed = kind.endswith("_confirmed") and kind != "opt_out_confirmed"
    if agreed and speaker.disposition in ("will_pay", "wants_plan", "hardship"):
        if rng.random() < 0.3:
            return Reply(compose(speaker.language, "thanks_ack", rng, thanks=True), "thanks_ack")
        return None
    if kind == "pay_now" and speaker.disposition == "will_pay" and rng.random() < 0.3:
        return _promise(speaker, rng, {}, None)
    return None


# --- reading a simulated reply back -------------------------------------------------------


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


@cache
def _patterns(language: Language) -> tuple[tuple[re.Pattern[str], int, Intent], ...]:
    out = []
    for intent, cores in CORE[language].items():
        for core in cores:
            pieces = [_plain(p) for p in re.split(r"\{\w+\}", core)]
            pieces = [p for p in pieces if p]
            body = ".*?".join(re.escape(p) for p in pieces)
            out.append((re.compile(rf"\b{body}\b"), sum(len(p) for p in pieces), intent))
    return tuple(out)


def simulated_intent(text: str | None, language: Language | None = None) -> Intent | None:
    """The meaning of a text this module wrote, from its core phrase (None when
    it holds none). For the demo's simulated bank, not for real messages: real
    debtors' messages are for ``recaudo.understanding``."""
    if not text:
        return None
    plain = _plain(text)
    best: tuple[int, Intent] | None = None
    for lang in (language,) if language else REPLY_LANGUAGES:
        for pattern, weight, intent in _patterns(lang):
            if pattern.search(plain) and (best is None or weight > best[0]):
                best = (weight, intent)
    return best[1] if best else None
