"""What simulated debtors write back: varied, in their language, coherent with
their disposition and with what they were offered, the same for the same seed."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.simulator_replies import (
    CORE,
    DISPOSITIONS,
    REPLY_KINDS,
    REPLY_LANGUAGES,
    Language,
    Reply,
    Said,
    Speaker,
    _plain,
    affordable,
    compose,
    kind_of,
    parse_money,
    reply_to,
    simulated_intent,
)
from recaudo.conversation.replies import REPLY_KINDS as DIALOGUE_REPLY_KINDS
from recaudo.conversation.replies import SAMPLE
from recaudo.understanding.corpus import load_corpus

#: Distinct texts at least, in 200 draws of one intent in one language.
MIN_DISTINCT_IN_200 = 100

languages = st.sampled_from(REPLY_LANGUAGES)
dispositions = st.sampled_from(DISPOSITIONS)
capacities = st.floats(min_value=0.05, max_value=1.0)
speakers = st.builds(Speaker, languages, dispositions, capacities)
money = st.integers(min_value=1, max_value=10_000_000)
#: How a dispatch may name a reply kind: alone or as one part of a longer id.
template_ids = st.sampled_from([*sorted(REPLY_KINDS), "payment_missed", "instalment_reminder"])
wrapped = st.sampled_from(["{}", "conversation.{}", "reply:{}", "{}.neutral"])


def plan_variables(n: int, each: int, last: int) -> dict[str, str]:
    return {
        "instalments": str(n),
        "instalment": f"COP {each // 100:,}.{each % 100:02d}",
        "last_instalment": f"COP {last // 100:,}.{last % 100:02d}",
        "frequency": "MONTHLY",
        "due_date": "2026-12-15",
    }


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A dispatch's template id and variables, as the dialogue or the orchestrator sends them."""
    kind = draw(template_ids)
    if kind in ("plan_offer", "plan_counter", "plan_confirmed"):
        n = draw(st.integers(min_value=1, max_value=24))
        each = draw(money)
        variables = plan_variables(n, each, draw(st.sampled_from([each, each // 2 + 1])))
    else:
        amount, balance = draw(money), draw(money)
        variables = {**SAMPLE, "amount": f"USD {amount // 100:,}.{amount % 100:02d}"}
        variables["balance"] = f"USD {max(amount, balance) // 100:,}.00"
    return draw(wrapped).format(kind), variables


def test_the_same_seed_gives_the_same_replies() -> None:
    def replies(seed: int) -> list[str | None]:
        rng = random.Random(seed)
        out: list[str | None] = []
        for disposition in DISPOSITIONS:
            for language in REPLY_LANGUAGES:
                speaker = Speaker(language, disposition, 0.3)
                for kind in [*sorted(REPLY_KINDS), "payment_missed"]:
                    reply = reply_to(speaker, kind, SAMPLE, (), rng)
                    out.append(reply.text if reply else None)
        return out

    assert replies(1) == replies(1)
    assert replies(1) != replies(2)


def test_one_meaning_is_written_many_ways() -> None:
    for language in REPLY_LANGUAGES:
        for intent in CORE[language]:
            rng = random.Random(f"{language}/{intent}")
            texts = {compose(language, intent, rng) for _ in range(200)}
            assert len(texts) >= MIN_DISTINCT_IN_200, (language, intent, len(texts))


def test_a_core_phrase_means_one_thing_in_its_language() -> None:
    for language in REPLY_LANGUAGES:
        seen: dict[str, str] = {}
        for intent, cores in CORE[language].items():
            for core in cores:
                plain = _plain(re.sub(r"\{\w+\}", " ", core))
                assert seen.setdefault(plain, intent) == intent, (language, core)


def test_the_phrase_bank_is_not_the_classifiers_corpus() -> None:
    """The demo measures the classifier on text it never trained on: no core
    phrase is an utterance of the corpus, bar the carriers' opt-out keywords."""
    keywords = {"stop", "baja", "sair", "parar", "unsubscribe"}
    for language in REPLY_LANGUAGES:
        corpus = {_plain(example.text) for example in load_corpus(language)}
        for cores in CORE[language].values():
            for core in cores:
                plain = _plain(core)
                assert "{" in core or plain in keywords or plain not in corpus, (
                    f"{core!r} is in the classifier's corpus: rephrase it here"
                )


def test_every_reply_the_dialogue_sends_is_recognised() -> None:
    """A reply kind added to the dialogue but not here would be answered as an outreach."""
    assert set(DIALOGUE_REPLY_KINDS) <= REPLY_KINDS
    assert kind_of("plan_offer") == kind_of("conversation.plan_offer") == "plan_offer"
    assert kind_of("reply:ask_promise_date") == "ask_promise_date"
    assert kind_of("payment_missed") == "outreach"


def test_money_is_read_from_recaudos_format_and_anything_else_is_ignored() -> None:
    assert parse_money("COP 150,000.00") == ("COP", 15_000_000)
    assert parse_money("CLP 12,000") == ("CLP", 12_000)
    assert parse_money("USD 1.5") == ("USD", 150)
    assert parse_money("") is None and parse_money(None) is None and parse_money("soon") is None


@settings(max_examples=400, deadline=None)
@given(speakers, messages(), st.integers())
def test_a_reply_speaks_the_debtors_language_and_means_what_it_says(
    speaker: Speaker, message: tuple[str, dict[str, str]], seed: int
) -> None:
    reply = reply_to(speaker, *message, (), random.Random(seed))
    if reply is not None:
        assert simulated_intent(reply.text, speaker.language) == reply.intent
        assert simulated_intent(reply.text) == reply.intent


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(REPLY_LANGUAGES), capacities, messages(), st.integers())
def test_a_debtor_who_wants_to_be_left_alone_never_accepts_and_only_opts_out(
    language: Language, capacity: float, message: tuple[str, dict[str, str]], seed: int
) -> None:
    speaker = Speaker(language, "leave_alone", capacity)
    reply = reply_to(speaker, *message, (), random.Random(seed))
    assert reply is None or (reply.intent == "opt_out" and not reply.accepts)


@settings(max_examples=300, deadline=None)
@given(speakers, messages(), st.integers())
def test_after_opting_out_a_debtor_never_writes_again(
    speaker: Speaker, message: tuple[str, dict[str, str]], seed: int
) -> None:
    history = (Said("outreach", "opt_out", "no me escriban más"),)
    assert reply_to(speaker, *message, history, random.Random(seed)) is None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(REPLY_LANGUAGES), capacities, messages(), st.integers())
def test_the_wrong_person_says_so_and_never_promises(
    language: Language, capacity: float, message: tuple[str, dict[str, str]], seed: int
) -> None:
    reply = reply_to(Speaker(language, "wrong_person", capacity), *message, (), random.Random(seed))
    assert reply is None or (reply.intent == "wrong_person" and not reply.accepts)


@settings(max_examples=500, deadline=None)
@given(
    speakers,
    st.sampled_from(["plan_offer", "plan_counter"]),
    st.integers(min_value=1, max_value=24),
    money,
    st.integers(),
)
def test_an_accepted_plan_is_one_the_debtor_can_pay(
    speaker: Speaker, kind: str, n: int, each: int, seed: int
) -> None:
    variables = plan_variables(n, each, each)
    reply = reply_to(speaker, kind, variables, (), random.Random(seed))
    if reply is not None and reply.accepts:
        assert affordable(speaker, each, each * n)
    if affordable(speaker, each, each * n) and speaker.disposition in ("will_pay", "wants_plan"):
        assert reply is not None and reply.accepts, reply


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(REPLY_LANGUAGES),
    st.sampled_from(["wants_plan", "hardship"]),
    st.floats(min_value=0.05, max_value=0.5),
    st.integers(),
)
def test_a_plan_too_dear_gets_a_request_for_more_instalments_then_for_a_person(
    language: Language, disposition: str, capacity: float, seed: int
) -> None:
    speaker = Speaker(language, disposition, capacity)  # type: ignore[arg-type]
    too_few = speaker.instalments_needed - 1
    if too_few < 1:
        return
    variables = plan_variables(too_few, 100_000, 100_000)
    offered = reply_to(speaker, "plan_offer", variables, (), random.Random(seed))
    assert offered is not None
    assert offered == Reply(offered.text, "ask_plan", instalments=speaker.instalments_needed)
    countered = reply_to(speaker, "plan_counter", variables, (), random.Random(seed))
    assert countered is not None and not countered.accepts
    assert countered.intent in ("ask_human", "hardship")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(REPLY_LANGUAGES), st.integers())
def test_a_payer_asked_for_a_date_names_one(language: Language, seed: int) -> None:
    speaker = Speaker(language, "will_pay", 1.0)
    reply = reply_to(speaker, "ask_promise_date", {"amount": "BRL 150.00"}, (), random.Random(seed))
    assert reply is not None and reply.intent == "promise_to_pay"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(REPLY_LANGUAGES), st.integers())
def test_a_payer_accepts_the_counter_to_their_promise(language: Language, seed: int) -> None:
    speaker = Speaker(language, "will_pay", 1.0)
    variables = {"amount": "MXN 1,500.00", "due_date": "2026-12-15"}
    reply = reply_to(speaker, "promise_counter", variables, (), random.Random(seed))
    assert reply is not None and reply.accepts and reply.intent == "thanks_ack"
