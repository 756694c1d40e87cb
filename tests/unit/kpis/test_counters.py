"""Counters add up; rates come from summed counters, None without a denominator."""

from __future__ import annotations

from recaudo.kpis import Counters, Rates


def test_add_sums_every_counter_and_map() -> None:
    a = Counters(contacts=2, delivered=1, recovered_minor={"COP": 5}, suppressions={"X": 1})
    a.add(Counters(contacts=1, recovered_minor={"COP": 7, "USD": 1}, suppressions={"Y": 2}))
    assert (a.contacts, a.delivered) == (3, 1)
    assert a.recovered_minor == {"COP": 12, "USD": 1}
    assert a.suppressions == {"X": 1, "Y": 2}


def test_sparse_dict_roundtrips() -> None:
    c = Counters(contacts=4, calls=1, recovered_minor={"USD": 900})
    assert c.to_dict(sparse=True) == {"contacts": 4, "calls": 1, "recovered_minor": {"USD": 900}}
    assert Counters.from_dict(c.to_dict(sparse=True)) == c
    assert Counters.from_dict(c.to_dict()) == c
    assert Counters().is_empty() and not c.is_empty()


def test_rates_use_their_own_denominators() -> None:
    c = Counters(
        contacts=10,
        calls=4,
        delivered=8,
        replied=3,
        right_party=2,
        promises=2,
        promises_kept=1,
        promises_broken=3,
        episodes=5,
        contacted_cures=2,
        contacts_to_cure=7,
    )
    r = c.rates()
    assert r.delivery_rate == 0.8
    assert r.right_party_rate == 0.5  # of the 4 calls
    assert r.reply_rate == 0.5  # of the 6 messages
    assert r.promise_rate == 0.2
    assert r.promise_kept_rate == 0.25  # of the 4 promises that came due
    assert r.cure_rate == 0.4
    assert r.contacts_per_cure == 3.5


def test_no_denominator_is_no_data_not_zero() -> None:
    assert Rates.of(Counters()).to_dict() == dict.fromkeys(Rates.of(Counters()).to_dict())
    assert Counters(contacts=3).rates().right_party_rate is None
