"""Secrets at rest: Slack signing secrets and bot tokens are stored as Fernet tokens under a key
derived from SECRET_KEY with HKDF-SHA256, so the database alone never reveals them.

Rotating SECRET_KEY makes the stored secrets unreadable: run ``slack-config`` again after it.
Plain values are never logged; errors name the setting, never its value.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"sales-agent-learning"
_INFO = b"slack-secrets-at-rest:v1"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted: SECRET_KEY changed since it was stored."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


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
