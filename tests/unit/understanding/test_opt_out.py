"""Opt-out on the safe side: explicit requests anywhere in a message, a low
probability threshold, and which contact to stop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recaudo.contracts.records import Channel
from recaudo.understanding.opt_out import (
    OPT_OUT_THRESHOLD,
    explicit_opt_out,
    opt_out_scope,
)
from recaudo.understanding.types import INTENTS, Intent, OptOutScope
from recaudo.understanding.understand import decide

STOP_REQUESTS = [
    "STOP",
    "BAJA",
    "baja por favor",
    "SAIR",
    "unsubscribe",
    "no me escriban más",
    "no me escriban mas",
    "dejen de llamarme",
    "no me contacten más",
    "denme de baja",
    "pare de me mandar mensagem",
    "parem de me ligar",
    "não me mandem mais mensagem",
    "me tira da lista",
    "unsubscribe me",
    "stop texting me",
    "do not contact me",
    "don't call me again",
    "take me off your list",
    "delete my number",
    "eliminen mi número por favor",
    "borren mis datos",
    "apaguem meu número",
    "removam meus dados do sistema",
    "desuscribir",
    "quero descadastrar",
    "me descadastra",
    "leave me alone",
    "do not call",
    "I do not wish to receive further communications",
    "not one more message",
    "ni un mensaje más",
    "nem mais uma mensagem",
    "me esquece",
    "esqueçam de mim",
    "me deixem em paz",
    "déjenme en paz",
    "olvídense de mí",
]
OTHER_TEXT = [
    "ya pagué ayer",
    "pago el viernes 200 mil",
    "esa deuda no es mía",
    "perdi meu emprego",
    "quanto eu devo?",
    "I'll pay next Monday",
    "fuck off",
    "",
    "🙏",
]


@pytest.mark.parametrize("text", STOP_REQUESTS)
def test_explicit_stop_requests(text: str) -> None:
    assert explicit_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "pago el viernes",
        "me pueden llamar?",
        "call me",
        "stop by the branch?",
        "quero pagar",
        "ok",
        "me esqueci de pagar",
        "esqueci a senha do app",
    ],
)
def test_messages_that_ask_no_stop(text: str) -> None:
    assert not explicit_opt_out(text)


@given(
    request=st.sampled_from(STOP_REQUESTS),
    before=st.sampled_from(OTHER_TEXT),
    after=st.sampled_from(OTHER_TEXT),
    shout=st.booleans(),
)
def test_a_stop_request_inside_any_other_message_is_an_opt_out(
    request: str, before: str, after: str, shout: bool
) -> None:
    text = f"{before}. {request.upper() if shout else request}, {after}"
    # Whatever the classifier says: here it is sure of something else entirely.
    sure: Intent = "promise_to_pay"
    probabilities = [(sure, 0.99)] + [(i, 0.01 / 14) for i in INTENTS if i != sure]
    intent, confidence, alternatives = decide(probabilities, text)
    assert (intent, confidence) == ("opt_out", 1.0)
    assert alternatives[0][0] == "promise_to_pay"


@given(p_opt_out=st.floats(min_value=0.0, max_value=0.5), other=st.sampled_from(INTENTS))
def test_a_modest_opt_out_probability_wins(p_opt_out: float, other: Intent) -> None:
    if other == "opt_out":
        return
    opt_out: Intent = "opt_out"
    rest = [i for i in INTENTS if i not in (opt_out, other)]
    probabilities = sorted(
        [(opt_out, p_opt_out), (other, 1.0 - p_opt_out)] + [(i, 0.0) for i in rest],
        key=lambda kv: -kv[1],
    )
    intent, confidence, _ = decide(probabilities, "hmm")
    if p_opt_out >= OPT_OUT_THRESHOLD:
        assert (intent, confidence) == ("opt_out", round(p_opt_out, 4))
    else:
        assert intent == other


@pytest.mark.parametrize(
    ("text", "scope", "channels"),
    [
        ("STOP", "channel", ()),
        ("BAJA", "channel", ()),
        ("no me escriban más", "channel", ()),
        ("no me llamen más", "channel", ("voice",)),
        ("dejen de llamarme", "channel", ("voice",)),
        ("no me manden más correos", "channel", ("email",)),
        ("pare de me mandar zap", "channel", ("whatsapp",)),
        ("stop calling me", "channel", ("voice",)),
        ("no me contacten más", "all", ()),
        ("não me contatem por nenhum meio", "all", ()),
        ("do not contact me", "all", ()),
        ("leave me alone", "all", ()),
        ("sáquenme de su base de datos", "all", ()),
        ("quiero darme de baja", "all", ()),
        ("me deixa em paz, para de ligar", "all", ()),
    ],
)
def test_scope(text: str, scope: OptOutScope, channels: tuple[Channel, ...]) -> None:
    assert opt_out_scope(text) == (scope, channels)
