"""Secrets at rest: Slack signing secrets and bot tokens are stored as Fernet tokens under a key
derived from SECRET_KEY with HKDF-SHA256, so the database alone never reveals them.

While SECRET_KEY is rotated, the keys in SECRET_KEY_PREVIOUS still decrypt them, and
``python -m backend rotate-secrets`` re-encrypts them under the new key (docs/operations.md).
Plain values are never logged; errors name the setting, never its value.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken, MultiFernet

from backend.derived_keys import derived_fernet

_PURPOSE = b"slack-secrets-at-rest:v1"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted: neither SECRET_KEY nor SECRET_KEY_PREVIOUS is the
    key it was stored under."""


def _fernet(secret_key: str) -> MultiFernet:
    return derived_fernet(secret_key, _PURPOSE)


def encrypt_secret(secret_key: str, plain: str) -> str:
    """The Fernet token (text) of ``plain``; a new random IV every time."""
    return _fernet(secret_key).encrypt(plain.encode()).decode("ascii")


def decrypt_secret(secret_key: str, token: str, *, what: str = "secret") -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise _unreadable(what) from None


def reencrypt_secret(secret_key: str, token: str, *, what: str = "secret") -> str:
    """``token`` (stored under the current key or a previous one) under the current key."""
    try:
        return _fernet(secret_key).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, ValueError):
        raise _unreadable(what) from None


def _unreadable(what: str) -> SecretUnreadable:
    return SecretUnreadable(
        f"the stored Slack {what} cannot be decrypted with SECRET_KEY or SECRET_KEY_PREVIOUS; "
        "run `python -m backend slack-config` again"
    )
