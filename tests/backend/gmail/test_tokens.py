"""Google ID token checks and the signing-key cache, against a local key server (no database).
The cache's clock is injected, so expiry and refetch limits are tested without waiting."""

from __future__ import annotations

from typing import Any

import pytest

from backend.gmail.tokens import AddonTokens, GoogleKeys, KeyFetchError, TokenError, parse_keys
from tests.backend.gmail.conftest import (
    CLIENT_ID,
    KID,
    SERVICE_ACCOUNT,
    Google,
    KeyServer,
    jwk,
    pem_certificate,
)

AUDIENCE = "https://addon.example.com/gmail/message"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tokens_for(keys: GoogleKeys) -> AddonTokens:
    return AddonTokens(keys, SERVICE_ACCOUNT, CLIENT_ID)


@pytest.mark.parametrize("path", ["/jwks", "/x509"])
def test_both_key_formats_verify_googles_tokens(
    key_server: KeyServer, google: Google, path: str
) -> None:
    tokens = tokens_for(GoogleKeys(key_server.url(path)))
    claims = tokens.verify_caller(google.caller("/gmail/message"), endpoint_url=AUDIENCE)
    assert (claims["email"], claims["aud"]) == (SERVICE_ACCOUNT, AUDIENCE)
    assert tokens.verify_user(google.user("Rep_A1@North.example")) == "rep_a1@north.example"
    assert key_server.hits == {path: 1}


def test_keys_are_kept_for_the_max_age_google_sends(key_server: KeyServer, google: Google) -> None:
    clock = Clock()
    key_server.max_age = 600
    tokens = tokens_for(GoogleKeys(key_server.url(), clock=clock))
    token = google.caller("/gmail/message")
    for _ in range(3):
        tokens.verify_caller(token, endpoint_url=AUDIENCE)
    clock.now += 599
    tokens.verify_caller(token, endpoint_url=AUDIENCE)
    assert key_server.hits["/jwks"] == 1
    clock.now += 2  # past max-age
    tokens.verify_caller(token, endpoint_url=AUDIENCE)
    assert key_server.hits["/jwks"] == 2


def test_without_max_age_keys_are_kept_an_hour(key_server: KeyServer, google: Google) -> None:
    clock = Clock()
    key_server.max_age = None
    keys = GoogleKeys(key_server.url(), clock=clock)
    keys.key(KID)
    clock.now += 3599
    keys.key(KID)
    assert keys.fetches == 1
    clock.now += 2
    keys.key(KID)
    assert keys.fetches == 2


def test_an_unknown_kid_refetches_once_per_interval(
    key_server: KeyServer, google: Google, other_key: Any
) -> None:
    clock = Clock()
    keys = GoogleKeys(key_server.url(), clock=clock, min_refetch=30)
    tokens = tokens_for(keys)
    tokens.verify_caller(google.caller("/gmail/message"), endpoint_url=AUDIENCE)
    # Google rotates: a new key appears. A token naming it refetches, unless one just did.
    key_server.jwks = {"keys": [jwk(google.key, KID), jwk(other_key, "google-key-2")]}
    rotated = google.caller("/gmail/message", key=other_key, kid="google-key-2")
    with pytest.raises(TokenError, match="'google-key-2' is not one of the signing keys"):
        tokens.verify_caller(rotated, endpoint_url=AUDIENCE)
    assert keys.fetches == 1  # within 30 s of the last fetch: no storm of fetches
    clock.now += 30
    tokens.verify_caller(rotated, endpoint_url=AUDIENCE)
    assert keys.fetches == 2
    forged = google.caller("/gmail/message", key=other_key, kid="made-up")
    for _ in range(5):
        with pytest.raises(TokenError, match="'made-up' is not one"):
            tokens.verify_caller(forged, endpoint_url=AUDIENCE)
    assert keys.fetches == 2 and key_server.hits["/jwks"] == 2


def test_a_failing_key_endpoint_keeps_the_keys_held(key_server: KeyServer, google: Google) -> None:
    clock = Clock()
    key_server.max_age = 60
    keys = GoogleKeys(key_server.url(), clock=clock, min_refetch=30)
    tokens = tokens_for(keys)
    token = google.caller("/gmail/message")
    tokens.verify_caller(token, endpoint_url=AUDIENCE)
    key_server.status = 503
    clock.now += 61  # expired, and the endpoint fails: the held keys still verify
    tokens.verify_caller(token, endpoint_url=AUDIENCE)
    tokens.verify_caller(token, endpoint_url=AUDIENCE)
    assert keys.fetches == 2  # the failed attempt is not retried at once
    key_server.status = 200
    clock.now += 30
    tokens.verify_caller(token, endpoint_url=AUDIENCE)
    assert keys.fetches == 3


def test_no_keys_at_all_is_an_outage_not_a_bad_token(key_server: KeyServer) -> None:
    clock = Clock()
    key_server.status = 500
    keys = GoogleKeys(key_server.url(), clock=clock, min_refetch=30)
    with pytest.raises(KeyFetchError, match="cannot fetch the signing keys from http://127"):
        keys.key(KID)
    with pytest.raises(KeyFetchError, match="no signing keys could be fetched"):
        keys.key(KID)
    assert keys.fetches == 1


def test_documents_without_a_usable_key_are_refused(google: Google, other_key: Any) -> None:
    for document in ({"keys": []}, {"keys": [{"kty": "EC", "kid": "x"}]}, {"a": "b"}, [1]):
        with pytest.raises(KeyFetchError, match="holds no usable RSA signing key"):
            parse_keys(document)
    mixed = {
        "keys": [
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            jwk(google.key, KID),
            {"kty": "RSA", "n": "no kid"},
        ]
    }
    assert set(parse_keys(mixed)) == {KID}
    assert set(parse_keys({"k2": pem_certificate(other_key), "bad": "-----BEGIN CERTIFICATE"})) == {
        "k2"
    }


def test_the_certificate_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="GMAIL_CERTS_URL must be an http"):
        GoogleKeys("file:///etc/passwd")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "https://addon.example.com/gmail/homepage"}, "is not addressed to"),
        ({"expires_in": -31, "issued_ago": 3631}, "has expired"),
        ({"iss": "https://accounts.google.com.evil"}, "is not issued by Google"),
        ({"email": "x@gmail.com"}, "not from the expected account"),
        ({"email_verified": False}, "email is not verified"),
        ({"algorithm": "HS256"}, "signed with 'HS256'; expected RS256"),
    ],
)
def test_each_claim_is_checked(
    key_server: KeyServer, google: Google, overrides: dict[str, Any], reason: str
) -> None:
    tokens = tokens_for(GoogleKeys(key_server.url()))
    with pytest.raises(TokenError, match=reason):
        tokens.verify_caller(google.caller("/gmail/message", **overrides), endpoint_url=AUDIENCE)


def test_clock_skew_within_the_leeway_is_tolerated(key_server: KeyServer, google: Google) -> None:
    tokens = tokens_for(GoogleKeys(key_server.url()))
    token = google.caller("/gmail/message", expires_in=-10, issued_ago=3610)
    assert tokens.verify_caller(token, endpoint_url=AUDIENCE)["email"] == SERVICE_ACCOUNT
    both_issuers = google.caller("/gmail/message", iss="accounts.google.com")
    assert tokens.verify_caller(both_issuers, endpoint_url=AUDIENCE)["iss"] == "accounts.google.com"
