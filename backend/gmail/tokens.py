"""Google-signed ID tokens: the signing keys (fetched from a certificate URL and cached) and the
checks every add-on request passes before anything else is read.

Two tokens arrive with each request. The `Authorization: Bearer` token proves Google sent it: its
audience is the endpoint's URL and its email the add-on's service account. The event's
`authorizationEventObject.userIdToken` says which Gmail user acted: its audience is the add-on's
OAuth client id. Both are RS256 JWTs issued by accounts.google.com.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from backend.retries import retrying

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
ALGORITHM = "RS256"
LEEWAY_SECONDS = 30  # clock skew tolerated on exp/iat/nbf
DEFAULT_TTL_SECONDS = 3600.0  # when the key response carries no Cache-Control max-age
MAX_TTL_SECONDS = 24 * 3600.0
MIN_REFETCH_SECONDS = 30.0  # an unknown kid refetches at most this often (no fetch storms)
MAX_KEYS_BYTES = 512 * 1024
FETCH_TIMEOUT_SECONDS = 5.0
_MAX_AGE = re.compile(r"max-age=(\d+)")
log = logging.getLogger(__name__)


class TokenError(Exception):
    """The token is not acceptable; the message says why (for logs and the 401 body)."""


class KeyFetchError(Exception):
    """Google's signing keys could not be fetched or read; the message names the URL."""


def parse_keys(document: Any, *, url: str = "the certificate URL") -> dict[str, RSAPublicKey]:
    """RSA public keys by kid, from a JWKS (`{"keys": [...]}`) or from Google's map of x509
    PEM certificates (`{kid: "-----BEGIN CERTIFICATE-----..."}`). Unusable entries are skipped;
    a document with no usable key at all is refused."""
    keys: dict[str, RSAPublicKey] = {}
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        for entry in document["keys"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
                continue
            if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry, algorithm=ALGORITHM).key
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                continue
            if isinstance(key, RSAPublicKey):
                keys[entry["kid"]] = key
    elif isinstance(document, dict):
        for kid, pem in document.items():
            if not isinstance(pem, str) or "BEGIN CERTIFICATE" not in pem:
                continue
            try:
                key = x509.load_pem_x509_certificate(pem.encode()).public_key()
            except ValueError:
                continue
            if isinstance(key, RSAPublicKey):
                keys[str(kid)] = key
    if not keys:
        raise KeyFetchError(
            f"{url} holds no usable RSA signing key (expected a JWKS or a map of PEM certificates)"
        )
    return keys


class GoogleKeys:
    """Google's signing keys, cached for the response's `Cache-Control: max-age` (else an hour).

    A token naming a kid we do not hold refetches the keys (Google rotates them), at most once
    per `min_refetch` seconds. When a refresh fails, the keys already held stay in use and the
    next attempt waits `min_refetch` seconds. Thread-safe: verification runs in worker threads.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        min_refetch: float = MIN_REFETCH_SECONDS,
        timeout: float = FETCH_TIMEOUT_SECONDS,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"GMAIL_CERTS_URL must be an http(s) URL, got {url!r}")
        self.url = url
        self.fetches = 0  # how many times the URL was asked (observability and tests)
        self._clock = clock
        self._min_refetch = min_refetch
        self._timeout = timeout
        self._keys: dict[str, RSAPublicKey] = {}
        self._expires_at = 0.0
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> RSAPublicKey:
        """The public key named ``kid``; TokenError when Google has no such key, KeyFetchError
        when no key could ever be fetched."""
        with self._lock:
            now = self._clock()
            may_fetch = self._attempted_at is None or now - self._attempted_at >= self._min_refetch
            if may_fetch and (now >= self._expires_at or kid not in self._keys):
                self._refresh(now)
            if not self._keys:
                raise KeyFetchError(f"no signing keys could be fetched from {self.url}")
            key = self._keys.get(kid)
        if key is None:
            raise TokenError(f"the token's key {kid!r} is not one of the signing keys")
        return key

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        self.fetches += 1
        try:
            document, max_age = self._download()
            self._keys = parse_keys(document, url=self.url)
        except KeyFetchError as exc:
            if not self._keys:
                raise
            log.warning("keeping the signing keys held: %s", exc)
            return
        ttl = DEFAULT_TTL_SECONDS if max_age is None else min(max_age, MAX_TTL_SECONDS)
        self._expires_at = now + ttl

    def _download(self) -> tuple[Any, float | None]:
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})

        def fetch() -> tuple[bytes, str]:
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    body = response.read(MAX_KEYS_BYTES + 1)
                    return body, response.headers.get("Cache-Control", "")
            except urllib.error.HTTPError as exc:  # an answer: not retried, its socket closed
                exc.close()
                raise KeyFetchError(
                    f"cannot fetch the signing keys from {self.url}: {exc}"
                ) from None

        try:
            # A read: tried twice more, with backoff, when the connection failed or timed out.
            body, cache_control = retrying(
                fetch, transient=(urllib.error.URLError, ConnectionError, TimeoutError)
            )
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise KeyFetchError(f"cannot fetch the signing keys from {self.url}: {exc}") from None
        if len(body) > MAX_KEYS_BYTES:
            raise KeyFetchError(f"the signing keys at {self.url} exceed {MAX_KEYS_BYTES} bytes")
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise KeyFetchError(f"the signing keys at {self.url} are not JSON") from None
        match = _MAX_AGE.search(cache_control)
        return document, float(match.group(1)) if match else None


def verify_id_token(
    token: str,
    keys: GoogleKeys,
    *,
    audience: str,
    email: str | None = None,
    issuers: tuple[str, ...] = GOOGLE_ISSUERS,
    leeway: float = LEEWAY_SECONDS,
) -> Mapping[str, Any]:
    """The claims of a Google-signed ID token addressed to ``audience`` (and, when given, from
    ``email``), or TokenError saying what is wrong with it."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("the token is not a JWT") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"the token is signed with {header.get('alg')!r}; expected {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("the token names no signing key (kid)")
    key = keys.key(kid)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuers,
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud", "email"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.InvalidAudienceError:
        raise TokenError(f"the token is not addressed to {audience}") from None
    except jwt.InvalidIssuerError:
        raise TokenError("the token is not issued by Google") from None
    except jwt.InvalidSignatureError:
        raise TokenError("the token's signature does not match its key") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"the token is invalid: {exc}") from None
    if claims.get("email_verified") not in (True, "true"):
        raise TokenError("the token's email is not verified")
    if not isinstance(claims["email"], str):
        raise TokenError("the token's email is not a string")
    if email is not None and claims["email"].lower() != email.lower():
        raise TokenError("the token is not from the expected account")
    return claims


@dataclass(frozen=True)
class AddonTokens:
    """The two checks of an add-on request, with the deployment's expected identities."""

    keys: GoogleKeys
    service_account: str  # the add-on's service account: who Google's calls come from
    client_id: str  # the add-on's OAuth client id: the audience of users' ID tokens

    def verify_caller(self, token: str, *, endpoint_url: str) -> Mapping[str, Any]:
        """The `Authorization` token: Google, calling ``endpoint_url`` for this add-on."""
        return verify_id_token(token, self.keys, audience=endpoint_url, email=self.service_account)

    def verify_user(self, token: str) -> str:
        """The Gmail user's ID token from the event: their (verified) email, lower-cased."""
        return str(verify_id_token(token, self.keys, audience=self.client_id)["email"]).lower()
