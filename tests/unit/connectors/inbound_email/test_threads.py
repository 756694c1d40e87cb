"""A reply finds the dispatch it answers by the token of the email it replies
to: In-Reply-To, References or the Reply-To plus-address; forged or foreign
tokens find nothing."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.inbound_email.threads import (
    KEY_FILE,
    Thread,
    find_thread,
    message_id,
    read_token,
    reply_address,
    reply_token,
    thread_key,
)
from recaudo.settings import Settings

KEY = b"k3y"
DISPATCH = "0b8f3c1e-2a4d-5e6f-8a9b-0c1d2e3f4a5b"


@given(
    dispatch=st.one_of(st.uuids().map(str), st.text(min_size=1, max_size=80)),
    debtor=st.text(min_size=1, max_size=60),
)
def test_a_token_names_its_dispatch_and_debtor(dispatch: str, debtor: str) -> None:
    token = reply_token(dispatch, debtor, KEY)
    assert token == token.lower() and token.isalnum()
    assert read_token(token, KEY) == Thread(dispatch, debtor)
    # Mail systems may fold the case of an address.
    assert read_token(token.upper(), KEY) == Thread(dispatch, debtor)
    assert read_token(token, b"another key") is None


@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_a_changed_token_names_nothing(position: int, flip: int) -> None:
    token = reply_token(DISPATCH, "D-1", KEY)
    i = position % len(token)
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    changed = alphabet[(alphabet.index(token[i]) + 1 + flip % 31) % 32]
    forged = token[:i] + changed + token[i + 1 :]
    assert read_token(forged, KEY) in (None, Thread(DISPATCH, "D-1"))
    # Only the last character's unused low bits may change without effect.
    if i < len(token) - 1:
        assert read_token(forged, KEY) is None


def test_in_reply_to_then_references_then_plus_address() -> None:
    first = message_id(reply_token(DISPATCH, "D-1", KEY), "cobranza@banco.example")
    later_dispatch = str(uuid.uuid4())
    later = message_id(reply_token(later_dispatch, "D-1", KEY), "cobranza@banco.example")
    other_mail = "<CAF=abc123@mail.gmail.com>"
    assert find_thread([later], [first, later], [], KEY) == Thread(later_dispatch, "D-1")
    # No In-Reply-To: the newest reference of ours.
    assert find_thread([], [first, later, other_mail], [], KEY) == Thread(later_dispatch, "D-1")
    assert find_thread([other_mail], [first], [], KEY) == Thread(DISPATCH, "D-1")
    plus = reply_address("replies@banco.example", reply_token(DISPATCH, "D-2", KEY))
    assert plus is not None
    assert find_thread([other_mail], [], ["ana@example.com", plus], KEY) == Thread(DISPATCH, "D-2")
    assert find_thread([other_mail], [other_mail], ["replies@banco.example"], KEY) is None


def test_a_message_id_of_ours_signed_with_another_key_is_not_threaded() -> None:
    forged = message_id(reply_token(DISPATCH, "D-1", b"guess"), "cobranza@banco.example")
    assert find_thread([forged], [], [], KEY) is None


def test_a_plus_address_longer_than_a_local_part_is_not_offered() -> None:
    long_debtor = "D" * 60
    assert reply_address("replies@banco.example", reply_token(DISPATCH, long_debtor, KEY)) is None
    with pytest.raises(ValueError, match="not an address"):
        reply_address("replies", "abc")


def test_without_a_configured_key_each_installation_makes_its_own_and_keeps_it(
    tmp_path: Path,
) -> None:
    here = Settings(state_dir=tmp_path / "a")
    key = thread_key(here)
    assert len(key) == 64
    assert thread_key(here) == key  # kept, so earlier emails still thread
    stored = tmp_path / "a" / KEY_FILE
    assert stored.read_bytes() == key
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    # Another installation's key signs tokens this one refuses: no key is public.
    elsewhere = thread_key(Settings(state_dir=tmp_path / "b"))
    assert elsewhere != key
    token = reply_token(DISPATCH, "D-1", elsewhere)
    assert find_thread([message_id(token, "c@banco.example")], [], [], key) is None


def test_a_configured_key_wins_and_no_token_is_made_without_one(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, email_thread_key=SecretStr("from-the-vault"))
    assert thread_key(settings) == b"from-the-vault"
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(ValueError, match="needs a key"):
        reply_token(DISPATCH, "D-1", None)
