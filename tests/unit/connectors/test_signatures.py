"""Webhook signatures: Twilio's published vectors, Meta's and recaudo's HMACs,
and the good / bad / missing cases of each."""

from __future__ import annotations

import hashlib
import hmac

from connectors.webhooks.signatures import (
    meta_signature,
    twilio_signature,
    verify_meta,
    verify_twilio,
    verify_webhook,
    webhook_signature,
)

# Twilio's documented example (its request validator's own tests).
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": ["CA1234567890ABCDE"],
    "Caller": ["+14158675309"],
    "Digits": ["1234"],
    "From": ["+14158675309"],
    "To": ["+18005551212"],
}
SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilio_matches_the_published_vector() -> None:
    assert twilio_signature(TOKEN, URL, PARAMS) == SIGNATURE
    assert verify_twilio(TOKEN, URL, PARAMS, SIGNATURE)


def test_twilio_repeated_parameters_are_sorted_by_value() -> None:
    params = {"Sid": ["CA123"], "SidAccount": ["AC123"], "Digits": ["5678", "1234", "1234"]}
    assert twilio_signature(TOKEN, URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_twilio_rejects_bad_and_missing_signatures() -> None:
    assert not verify_twilio(TOKEN, URL, PARAMS, None)
    assert not verify_twilio(TOKEN, URL, PARAMS, "")
    assert not verify_twilio(TOKEN, URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8")
    assert not verify_twilio("other", URL, PARAMS, SIGNATURE)
    assert not verify_twilio(TOKEN, URL + "&x=1", PARAMS, SIGNATURE)
    assert not verify_twilio(TOKEN, URL, {**PARAMS, "Digits": ["9999"]}, SIGNATURE)


def test_meta_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    expected = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert meta_signature("app-secret", body) == expected
    assert verify_meta("app-secret", body, expected)


def test_meta_rejects_bad_and_missing_signatures() -> None:
    body = b'{"entry":[]}'
    good = meta_signature("app-secret", body)
    assert not verify_meta("app-secret", body, None)
    assert not verify_meta("app-secret", body, "")
    assert not verify_meta("app-secret", body + b" ", good)
    assert not verify_meta("other", body, good)
    assert not verify_meta("app-secret", body, good.removeprefix("sha256="))


def test_webhook_signature_covers_timestamp_and_body() -> None:
    good = webhook_signature(b"s", "1700000000", b"{}")
    assert verify_webhook(b"s", "1700000000", b"{}", good)
    assert not verify_webhook(b"s", "1700000001", b"{}", good)
    assert not verify_webhook(b"s", "1700000000", b"{ }", good)
    assert not verify_webhook(b"s", "1700000000", b"{}", None)
