"""Signing secrets: made as `whsec_<base64>`, stored encrypted (Fernet, key derived from
SECRET_KEY with HKDF-SHA256; SECRET_KEY_PREVIOUS still decrypts during a rotation), and the
Standard Webhooks signature of each message. A secret is never logged; errors name the endpoint,
never the secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import InvalidToken, MultiFernet

from backend.derived_keys import derived_fernet

PREFIX = "whsec_"
_PURPOSE = b"partner-webhook-secrets-at-rest:v1"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted: neither SECRET_KEY nor SECRET_KEY_PREVIOUS is the
    key it was stored under."""


def new_secret() -> str:
    """24 random bytes, as Standard Webhooks spells a secret: `whsec_` + base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _fernet(secret_key: str) -> MultiFernet:
    return derived_fernet(secret_key, _PURPOSE)


def encrypt_secret(secret_key: str, plain: str) -> str:
    return _fernet(secret_key).encrypt(plain.encode()).decode("ascii")


def decrypt_secret(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise _unreadable() from None


def reencrypt_secret(secret_key: str, token: str) -> str:
    """``token`` (stored under the current key or a previous one) under the current key."""
    try:
        return _fernet(secret_key).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, ValueError):
        raise _unreadable() from None


def _unreadable() -> SecretUnreadable:
    return SecretUnreadable(
        "the endpoint's signing secret cannot be decrypted with SECRET_KEY or "
        "SECRET_KEY_PREVIOUS; create the endpoint again"
    )


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
