"""Portal tokens: what they carry comes back only from an untouched, unexpired
token of the right purpose, and nothing of the debtor is readable in them."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from recaudo.portal.token import (
    Keys,
    PortalToken,
    TokenRefused,
    mint,
    portal_key,
    verify,
)
from recaudo.settings import Settings

KEYS = Keys.derive(b"a-test-portal-key")
NOW = 1_800_000_000_000
LINK = PortalToken(
    debtor_id="D-CO-000123",
    dispatch_id="3f1c2b4a-9d8e-4f7a-b6c5-0e1d2c3b4a59",
    channel="sms",
    purpose="open",
    expires_at=NOW + 3_600_000,
    account_id="ACC-98765",
)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)


def test_a_minted_token_verifies_to_what_it_carries() -> None:
    assert verify(mint(LINK, KEYS), KEYS, "open", NOW) == LINK
    choice = replace(LINK, purpose="choose", offer_id="portal-abc")
    assert verify(mint(choice, KEYS), KEYS, "choose", NOW) == choice


def test_the_same_link_is_the_same_token_and_another_is_not() -> None:
    assert mint(LINK, KEYS) == mint(LINK, KEYS)
    assert mint(LINK, KEYS) != mint(replace(LINK, dispatch_id="other"), KEYS)


def test_an_expired_token_is_refused_from_its_expiry_on() -> None:
    text = mint(LINK, KEYS)
    assert verify(text, KEYS, "open", LINK.expires_at - 1) == LINK
    for now in (LINK.expires_at, LINK.expires_at + 86_400_000):
        with pytest.raises(TokenRefused) as refused:
            verify(text, KEYS, "open", now)
        assert refused.value.reason == "expired"


def test_a_token_is_refused_for_another_purpose() -> None:
    with pytest.raises(TokenRefused) as refused:
        verify(mint(LINK, KEYS), KEYS, "choose", NOW)
    assert refused.value.reason == "wrong_purpose"
    choice = replace(LINK, purpose="choose", offer_id="portal-abc")
    with pytest.raises(TokenRefused) as refused:
        verify(mint(choice, KEYS), KEYS, "open", NOW)
    assert refused.value.reason == "wrong_purpose"


def test_a_token_of_another_key_is_refused() -> None:
    with pytest.raises(TokenRefused) as refused:
        verify(mint(LINK, Keys.derive(b"another-installation")), KEYS, "open", NOW)
    assert refused.value.reason == "tampered"


@pytest.mark.parametrize("text", ["", "x", "!!!!", "A" * 2000, "AQ", "AQ" + "A" * 60])
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(TokenRefused):
        verify(text, KEYS, "open", NOW)


def test_nothing_of_the_debtor_is_readable_in_the_token() -> None:
    text = mint(LINK, KEYS)
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    for secret in (LINK.debtor_id, LINK.dispatch_id, LINK.account_id, "D-CO", "ACC"):
        assert secret not in text
        assert secret.encode() not in raw


@given(
    position=st.integers(min_value=0),
    replacement=st.sampled_from(ALPHABET + "=.~+/ "),
    # Ids of every length mod 3, so some tokens end in a character with unused bits.
    debtor=st.text(ALPHABET, min_size=1, max_size=6),
)
def test_any_single_character_change_is_refused(
    position: int, replacement: str, debtor: str
) -> None:
    text = mint(replace(LINK, debtor_id=debtor), KEYS)
    i = position % len(text)
    if text[i] == replacement:
        replacement = "B" if replacement == "A" else "A"
    changed = text[:i] + replacement + text[i + 1 :]
    with pytest.raises(TokenRefused):
        verify(changed, KEYS, "open", NOW)


@pytest.mark.parametrize("debtor", ["D", "D1", "D12"])
def test_every_other_character_in_every_position_is_refused(debtor: str) -> None:
    text = mint(replace(LINK, debtor_id=debtor), KEYS)
    for i, held in enumerate(text):
        for other in ALPHABET.replace(held, ""):
            with pytest.raises(TokenRefused):
                verify(text[:i] + other + text[i + 1 :], KEYS, "open", NOW)


@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_is_refused(position: int, flip: int) -> None:
    text = mint(LINK, KEYS)
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[position % len(raw)] ^= flip
    changed = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(TokenRefused):
        verify(changed, KEYS, "open", NOW)


@given(a=ids, b=ids, dispatch=ids)
def test_one_debtors_token_never_names_another(a: str, b: str, dispatch: str) -> None:
    mine = replace(LINK, debtor_id=a, dispatch_id=dispatch)
    theirs = replace(LINK, debtor_id=b, dispatch_id=dispatch)
    assert verify(mint(mine, KEYS), KEYS, "open", NOW).debtor_id == a
    if a != b:
        assert mint(mine, KEYS) != mint(theirs, KEYS)
        assert mine.link_id != theirs.link_id


def test_a_key_is_made_once_per_installation_and_kept(tmp_path: Path) -> None:
    here = Settings(state_dir=tmp_path / "a")
    key = portal_key(here)
    assert len(key) == 64 and portal_key(here) == key
    assert (tmp_path / "a" / "secrets" / "portal.key").stat().st_mode & 0o077 == 0
    assert portal_key(Settings(state_dir=tmp_path / "b")) != key
    configured = Settings(state_dir=tmp_path / "a", portal_key=SecretStr("from-the-vault"))
    assert portal_key(configured) == b"from-the-vault"
