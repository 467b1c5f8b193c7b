"""User tokens: a verified token is remembered, but never past its expiry, never for another
key, and a token that fails is never remembered."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.auth import tokens
from backend.auth.tokens import UserClaims, issue_user_token, read_user_token
from backend.errors import DomainError

KEY = "k" * 40


def _token(ttl: dt.timedelta) -> str:
    return issue_user_token(user_id=7, organization_id=3, secret_key=KEY, ttl=ttl)


def test_a_token_is_read_again_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token(dt.timedelta(hours=1))
    claims = read_user_token(token, secret_key=KEY)
    assert claims == UserClaims(user_id=7, organization_id=3)
    assert read_user_token(token, secret_key=KEY) == claims  # remembered
    expires = tokens._verified(token, KEY)[1]
    monkeypatch.setattr(tokens.time, "time", lambda: expires + 1)  # an hour later
    with pytest.raises(DomainError, match="invalid or expired token"):
        read_user_token(token, secret_key=KEY)


def test_another_key_a_forged_or_expired_token_is_refused() -> None:
    token = _token(dt.timedelta(hours=1))
    read_user_token(token, secret_key=KEY)
    head, body, signature = token.split(".")
    tail = "AB" if not signature.endswith("AB") else "BA"
    forged = f"{head}.{body}.{signature[:-2]}{tail}"
    expired = _token(dt.timedelta(seconds=-5))
    for bad, key in ((token, "other" * 8), (forged, KEY), (expired, KEY), ("", KEY)):
        with pytest.raises(DomainError, match="invalid or expired token"):
            read_user_token(bad, secret_key=key)
    before = tokens._verified.cache_info().currsize
    with pytest.raises(DomainError):
        read_user_token(forged, secret_key=KEY)
    assert tokens._verified.cache_info().currsize == before  # failures are not remembered


def test_expiry_is_judged_by_the_clock_given() -> None:
    issued = dt.datetime(2026, 11, 2, 15, 30, tzinfo=dt.UTC)  # long before the wall clock
    token = issue_user_token(
        user_id=7, organization_id=3, secret_key=KEY, ttl=dt.timedelta(hours=1), now=issued
    )
    claims = read_user_token(token, secret_key=KEY, now=issued + dt.timedelta(minutes=59))
    assert claims == UserClaims(user_id=7, organization_id=3)
    for later in (dt.timedelta(hours=1), dt.timedelta(days=1)):
        with pytest.raises(DomainError, match="invalid or expired token"):
            read_user_token(token, secret_key=KEY, now=issued + later)
    with pytest.raises(DomainError, match="invalid or expired token"):
        read_user_token(token, secret_key=KEY)  # the wall clock, by default
