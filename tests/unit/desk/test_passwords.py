"""Agents' password hashes: scrypt, a salt per hash, checked in constant time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaudo.desk.passwords import PasswordHashError, hash_password, parse, verify_password


@settings(max_examples=8, deadline=None)
@given(password=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_a_hash_verifies_its_password_and_no_other(password: str, other: str) -> None:
    stored = hash_password(password)
    assert verify_password(password, stored)
    assert verify_password(other, stored) == (other == password)


def test_each_hash_has_a_salt_of_its_own() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second
    assert parse(first)[3] != parse(second)[3]
    assert first.startswith("scrypt$16384$8$1$")


def test_an_unknown_agent_never_verifies() -> None:
    assert not verify_password("not a password", None)


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "pbkdf2$1$2$3$a$b", "scrypt$16384$8$1$!!$AAAA", "scrypt$3$8$1$AAAAAAAAAAA=$AA=="],
)
def test_a_damaged_hash_is_an_error_naming_the_command(stored: str) -> None:
    with pytest.raises(PasswordHashError, match="hash"):
        verify_password("x", stored)


def test_an_empty_password_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")
