"""How well recaudo's classifier understands the simulated debtors: text it
never trained on (the simulator's phrase bank is written apart from the
corpus). A measurement with a floor well below today's figure (documented in
docs/conversations.md, "The simulator's replies"), so that only a collapse of
either side fails it."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from connectors.simulator_replies import DISPOSITIONS, REPLY_LANGUAGES, Speaker, reply_to
from recaudo.conversation.replies import SAMPLE
from recaudo.understanding.understand import understand

NOW = datetime(2026, 12, 7, 15, tzinfo=UTC)
#: Share of replies whose understood intent is the one the debtor meant, per language.
FLOOR = 0.75
KINDS = (
    "payment_missed",
    "ask_promise_date",
    "ask_instalments",
    "plan_offer",
    "promise_counter",
    "settlement_offer",
    "balance",
    "promise_confirmed",
)


def test_simulated_replies_are_understood_as_meant() -> None:
    rng = random.Random(7)
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for i in range(900):
        language = REPLY_LANGUAGES[i % 3]
        speaker = Speaker(language, rng.choice(DISPOSITIONS), rng.choice((1.0, 0.5, 0.3, 0.12)))
        reply = reply_to(speaker, rng.choice(KINDS), SAMPLE, (), rng)
        if reply is None:
            continue
        understood = understand(
            reply.text, language=language, time_zone="America/Bogota", currency="COP", now=NOW
        )
        seen[language] += 1
        right[language] += understood.intent == reply.intent
    rates = {language: right[language] / seen[language] for language in REPLY_LANGUAGES}
    assert all(seen[language] > 200 for language in REPLY_LANGUAGES)
    assert min(rates.values()) >= FLOOR, rates
