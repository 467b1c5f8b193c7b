"""Strict reading of what every webhook receives before its signature is checked: numbers in
headers (signed timestamps, ``Content-Length``), and text a database can store.

Both signers (``backend.webhooks.signing``, ``backend.slack.signing``) and both receivers read
their headers here, so that one rule holds everywhere: ``"²".isdigit()`` and ``"١٢".isdigit()``
are true in Python, yet ``int("²")`` raises; only ASCII digits are a number.
"""

from __future__ import annotations

import re

MAX_DIGITS = 18  # unix seconds and body sizes need far fewer; int() stays cheap and in range
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def ascii_int(value: str | None, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The non-negative integer ``value`` spells in 1..``max_digits`` ASCII digits (spaces
    around it allowed), else None: no sign, no exponent, no other script's digits."""
    if value is None:
        return None
    text = value.strip()
    if not (0 < len(text) <= max_digits and text.isascii() and text.isdigit()):
        return None
    return int(text)


def storable(text: str) -> bool:
    """Whether a database can store ``text``: no NUL (PostgreSQL refuses it in text) and no
    unpaired surrogate (JSON's ``"\\ud83d"``, which no UTF-8 encoder accepts)."""
    return _UNSTORABLE.search(text) is None


UNSTORABLE_PROBLEM = "must not contain NUL characters or unpaired surrogates"
