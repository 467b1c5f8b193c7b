"""Secrets at rest: Slack signing secrets and bot tokens are stored as Fernet tokens under a key
derived from SECRET_KEY with HKDF-SHA256, so the database alone never reveals them.

Rotating SECRET_KEY makes the stored secrets unreadable: run ``slack-config`` again after it.
Plain values are never logged; errors name the setting, never its value.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken

from backend.derived_keys import derived_key

_PURPOSE = b"slack-secrets-at-rest:v1"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted: SECRET_KEY changed since it was stored."""


def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derived_key(secret_key, _PURPOSE)))


def encrypt_secret(secret_key: str, plain: str) -> str:
    """The Fernet token (text) of ``plain``; a new random IV every time."""
    return _fernet(secret_key).encrypt(plain.encode()).decode("ascii")


def decrypt_secret(secret_key: str, token: str, *, what: str = "secret") -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretUnreadable(
            f"the stored Slack {what} cannot be decrypted with this SECRET_KEY; "
            "run `python -m backend slack-config` again"
        ) from None
