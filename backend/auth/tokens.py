"""Signed bearer tokens for people (HS256 JWTs keyed by SECRET_KEY) and hashed API keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import jwt

from backend.errors import DomainError, ErrorCode

TOKEN_ISSUER = "sales-agent-learning"
API_KEY_PREFIX = "sal"


def issue_user_token(
    *, user_id: int, organization_id: int, secret_key: str, ttl: dt.timedelta
) -> str:
    now = dt.datetime.now(dt.UTC)
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


def read_user_token(token: str, *, secret_key: str) -> UserClaims:
    """Verify a user token; any defect is 'unauthenticated' without saying which."""
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=["HS256"],
            issuer=TOKEN_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        return UserClaims(user_id=int(claims["sub"]), organization_id=int(claims["org"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        raise DomainError(ErrorCode.UNAUTHENTICATED, "invalid or expired token") from None


@dataclass(frozen=True)
class NewApiKey:
    key: str  # shown once, never stored
    prefix: str
    key_hash: str


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key=key, prefix=prefix, key_hash=hash_api_key(key))


def hash_api_key(key: str) -> str:
    # API keys carry 256 random bits, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def api_key_matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), key_hash)
