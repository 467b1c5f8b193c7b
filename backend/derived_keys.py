"""Keys derived from SECRET_KEY, one per purpose (HKDF-SHA256), so no purpose's key reveals
another's and SECRET_KEY itself is never used as a key; and the key ring of a rotation: the
current SECRET_KEY with the previous ones still accepted (SECRET_KEY_PREVIOUS)."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"sales-agent-learning"


class SecretKey(str):
    """SECRET_KEY as the text it is (what signs and encrypts), carrying the keys it replaced
    that are still accepted during a rotation (``previous``, newest first). The settings hand
    this to every function taking a ``secret_key``: those that only sign or encrypt use the text;
    those that verify or decrypt use `key_ring`."""

    previous: tuple[str, ...]

    def __new__(cls, current: str, previous: Iterable[str] = ()) -> SecretKey:
        key = super().__new__(cls, current)
        key.previous = tuple(str(p) for p in previous if p and p != current)
        return key

    def __getnewargs__(self) -> tuple[str, tuple[str, ...]]:  # type: ignore[override]
        return str(self), self.previous


def key_ring(secret_key: str) -> tuple[str, ...]:
    """The keys to verify or decrypt with, the current one first, as plain strings: one key, or
    with a `SecretKey` its previous ones after it."""
    return (str(secret_key), *getattr(secret_key, "previous", ()))


def derived_key(secret_key: str, purpose: bytes) -> bytes:
    """The 32-byte key of ``purpose`` (e.g. ``b"report-unsubscribe:v1"``), from the current key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose).derive(
        str(secret_key).encode()
    )


def derived_fernet(secret_key: str, purpose: bytes) -> MultiFernet:
    """Fernet under ``purpose``'s key of each key of the ring: encrypts with the current key,
    decrypts with any, and ``rotate`` re-encrypts a token with the current key."""
    return MultiFernet(
        [
            Fernet(base64.urlsafe_b64encode(derived_key(key, purpose)))
            for key in key_ring(secret_key)
        ]
    )
