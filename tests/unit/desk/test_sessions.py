"""Who is asking: signed, expiring session cookies of configured agents, or a
trusted proxy's header; CSRF tokens tied to the session."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from recaudo.desk.sessions import Identity, Signer, identify

SIGNER = Signer(b"k" * 32)
AGENTS = {"ana": "hash", "luis": "hash"}
NOW = 1_800_000_000.0


def who(cookie: str | None = None, headers: dict[str, str] | None = None, **kw: object) -> object:
    values: dict[str, object] = {
        "cookie": cookie,
        "headers": headers or {},
        "trusted_header": None,
        "agents": AGENTS,
        "now": NOW,
    }
    values.update(kw)
    return identify(SIGNER, **values)  # type: ignore[arg-type]


def test_a_session_names_its_agent_until_it_expires() -> None:
    cookie = SIGNER.session("ana", NOW, 3600)
    found = who(cookie)
    assert isinstance(found, Identity) and found.agent == "ana"
    assert who(cookie, now=NOW + 3599) is not None
    assert who(cookie, now=NOW + 3600) is None


def test_no_cookie_a_forged_one_or_another_keys_is_nobody() -> None:
    cookie = SIGNER.session("ana", NOW, 3600)
    body, mac = cookie.split(".")
    assert who(None) is None
    assert who("") is None
    flipped = "B" if mac[0] == "A" else "A"
    assert who(f"{body}.{flipped}{mac[1:]}") is None
    assert who(Signer(b"x" * 32).session("ana", NOW, 3600)) is None
    forged = SIGNER.session("mallory", NOW, 3600).split(".")[0]
    assert who(f"{forged}.{mac}") is None


def test_an_agent_removed_from_the_list_is_signed_out() -> None:
    cookie = SIGNER.session("ana", NOW, 3600)
    assert who(cookie, agents={"luis": "hash"}) is None


def test_a_header_counts_only_when_configured_and_names_a_listed_agent() -> None:
    headers = {"x-forwarded-user": "ana"}
    assert who(headers=headers) is None, "no trusted header configured: the header is ignored"
    found = who(headers=headers, trusted_header="X-Forwarded-User")
    assert isinstance(found, Identity) and found.agent == "ana"
    assert who(headers={"x-forwarded-user": "eve"}, trusted_header="X-Forwarded-User") is None
    assert who(headers={}, trusted_header="X-Forwarded-User") is None
    anyone = who(headers={"x-forwarded-user": "eve"}, trusted_header="X-Forwarded-User", agents={})
    assert isinstance(anyone, Identity) and anyone.agent == "eve"


def test_with_a_trusted_header_a_session_cookie_alone_is_nobody() -> None:
    cookie = SIGNER.session("ana", NOW, 3600)
    assert who(cookie, trusted_header="X-Forwarded-User") is None


@given(st.text(max_size=30), st.text(max_size=30))
def test_a_csrf_token_holds_for_its_binding_only(binding: str, other: str) -> None:
    token = SIGNER.csrf(binding)
    assert SIGNER.check_csrf(binding, token)
    assert SIGNER.check_csrf(other, token) == (other == binding)
    assert not SIGNER.check_csrf(binding, None)
    assert not SIGNER.check_csrf(binding, "")


def test_two_sessions_of_one_agent_have_tokens_of_their_own() -> None:
    first = SIGNER.read_session(SIGNER.session("ana", NOW, 60), NOW)
    second = SIGNER.read_session(SIGNER.session("ana", NOW, 60), NOW)
    assert first is not None and second is not None
    assert SIGNER.csrf(first.binding) != SIGNER.csrf(second.binding)
