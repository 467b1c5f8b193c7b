"""Signed bearer tokens for people (HS256 JWTs keyed by SECRET_KEY; during a rotation, tokens
signed with a key of SECRET_KEY_PREVIOUS are still accepted) and hashed API keys."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from backend.derived_keys import key_ring
from backend.errors import DomainError, ErrorCode

TOKEN_ISSUER = "sales-agent-learning"
API_KEY_PREFIX = "sal"


def issue_user_token(
    *,
    user_id: int,
    organization_id: int,
    secret_key: str,
    ttl: dt.timedelta,
    now: dt.datetime | None = None,
) -> str:
    """A token good for ``ttl`` from ``now`` (default: the wall clock)."""
    now = now or dt.datetime.now(dt.UTC)
    claims = {
        "iss": TOKEN_ISSUER,
        "sub": str(user_id),
        "org": organization_id,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret_key, algorithm="HS256")


@dataclass(frozen=True)
class UserClaims:
    user_id: int
    organization_id: int


def read_user_token(token: str, *, secret_key: str, now: dt.datetime | None = None) -> UserClaims:
    """Verify a user token, live until ``now`` (default: the wall clock; a process passes its
    own clock); any defect is 'unauthenticated' without saying which.

    A token whose signature was verified is remembered (the last `VERIFIED_TOKENS`, by the
    exact token and key): its claims cannot change, so checking it again is only checking
    that it has not expired since. Who the user is now (active, role, agents) is still read
    on every request."""
    current, *previous = key_ring(secret_key)
    try:
        claims, expires = _verified(token, current, tuple(previous))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        raise DomainError(ErrorCode.UNAUTHENTICATED, "invalid or expired token") from None
    if expires <= (now.timestamp() if now is not None else time.time()):
        raise DomainError(ErrorCode.UNAUTHENTICATED, "invalid or expired token")
    return claims


VERIFIED_TOKENS = 4096


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(
    token: str, secret_key: str, previous: tuple[str, ...] = ()
) -> tuple[UserClaims, float]:
    """The claims of a token whose signature and issuer hold, and when it expires (a token that
    fails raises, and nothing is remembered). Its expiry is judged by the caller's clock, not
    here by the wall clock; nor is its issue time (not a bound of its validity). A signature
    that ``secret_key`` refuses is tried with each ``previous`` key, newest first."""
    *earlier, last = (secret_key, *previous)
    for key in earlier:
        try:
            return _claims(_decode(token, key))
        except jwt.InvalidSignatureError:
            continue  # perhaps signed with an older key of the ring
    return _claims(_decode(token, last))


def _decode(token: str, key: str) -> dict[str, Any]:
    return jwt.decode(
        token,
        key,
        algorithms=["HS256"],
        issuer=TOKEN_ISSUER,
        options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": False, "verify_iat": False},
    )


def _claims(claims: dict[str, Any]) -> tuple[UserClaims, float]:
    user = UserClaims(user_id=_row_id(claims["sub"]), organization_id=_row_id(claims["org"]))
    return user, float(claims["exp"])


def _row_id(value: object) -> int:
    """A claim naming a row: an id we could have issued (1 to 2**63 - 1, in ASCII digits), or
    ValueError: a longer number is no user of ours, however well signed, and would overflow the
    database's BIGINT."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise ValueError("not a row id")
    row_id = int(text)
    if not 0 < row_id < 2**63:
        raise ValueError("not a row id")
    return row_id


@dataclass(frozen=True)
class NewApiKey:
    key: str  # shown once, never stored
    prefix: str
    key_hash: str


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key=key, prefix=prefix, key_hash=hash_token(key))


def hash_token(token: str) -> str:
    """What is stored of a secret token (API keys, sign-in links, sessions): they carry 256
    random bits, so a fast hash is enough (no dictionary to attack)."""
    return hashlib.sha256(token.encode()).hexdigest()


def api_key_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def api_key_matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_token(key), key_hash)
