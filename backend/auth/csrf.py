"""Cross-site request forgery defences of what a browser sends with the session cookie (and of
the sign-in forms: login CSRF).

A browser names the page a POST or a WebSocket handshake comes from in `Origin` (a form POST
too; `Referer` is read when an old one sends no `Origin`). A cookie-authenticated POST or
handshake must come from the dashboard's own origin: PUBLIC_BASE_URL's, or, outside production,
the origin the request was sent to. A cookie-authenticated POST to /graphql must also be JSON,
which a page of another origin cannot send without a CORS preflight that we never answer.
Requests with `Authorization` carry no ambient credential and are not checked.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from backend.settings import Environment, Settings

_DEFAULT_PORTS = {"http": 80, "https": 443}
_WEB_SCHEMES = {"ws": "http", "wss": "https"}


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower case, the scheme's default port left out; None
    for anything else (``null``, no host)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = _WEB_SCHEMES.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def sent_from(connection: HTTPConnection) -> str | None:
    """The origin of the page the request comes from, by `Origin`, else by `Referer`."""
    origin = connection.headers.get("origin")
    if origin is not None:
        return origin_of(origin)
    referer = connection.headers.get("referer")
    return origin_of(referer) if referer else None


def trusted_origins(connection: HTTPConnection, settings: Settings) -> set[str]:
    trusted = {origin_of(settings.public_base_url)}
    if settings.env is not Environment.PRODUCTION:
        host = connection.headers.get("host")
        if host:
            trusted.add(origin_of(f"{connection.url.scheme}://{host}"))
    return {o for o in trusted if o is not None}


def cross_site_problem(connection: HTTPConnection, settings: Settings) -> str | None:
    """Why the request may not act with the session cookie (or sign in); None: it may."""
    origin = sent_from(connection)
    if origin is None:
        return "the request names no Origin (or Referer) to check"
    if origin not in trusted_origins(connection, settings):
        return f"requests from {origin} may not use the session cookie"
    return None


def json_problem(connection: HTTPConnection) -> str | None:
    """Why a cookie-authenticated POST to /graphql is refused by its content type; None: JSON."""
    content_type = connection.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        return "a request with the session cookie must be application/json"
    return None
