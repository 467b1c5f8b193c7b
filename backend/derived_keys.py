"""Keys derived from SECRET_KEY, one per purpose (HKDF-SHA256), so no purpose's key reveals
another's and SECRET_KEY itself is never used as a key."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"sales-agent-learning"


def derived_key(secret_key: str, purpose: bytes) -> bytes:
    """The 32-byte key of ``purpose`` (e.g. ``b"report-unsubscribe:v1"``)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose).derive(
        secret_key.encode()
    )
