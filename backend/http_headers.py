"""What every HTTP answer carries for browsers and partners: security headers, gzip, and CORS for
the origins a deployment allows (partners' web apps calling the API with a bearer token)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.settings import Environment, Settings

# The dashboard and GraphiQL load only their own files (frontend_stub/dist); styles may be inline
# (the charts' SVG attributes, the server's small HTML pages); the live API is this origin's
# WebSocket; no page may be framed (clickjacking).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
)
# Served over HTTPS in production (behind the load balancer): browsers keep to it for a year.
STRICT_TRANSPORT_SECURITY = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
GZIP_MINIMUM_BYTES = 1024  # smaller answers are not worth the CPU


class SecurityHeaders:
    """Adds the security headers to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp, *, strict_transport: bool) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + ((STRICT_TRANSPORT_SECURITY,) if strict_transport else ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def cors_origins(settings: Settings) -> list[str]:
    return [o.strip().rstrip("/") for o in settings.cors_allowed_origins.split(",") if o.strip()]


def http_middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: CORS answers preflights before anything else runs; answers are
    compressed; every answer gets the security headers."""
    middleware = []
    if origins := cors_origins(settings):
        # Bearer tokens only: no credentials (cookies) across origins, so the dashboard's
        # cookie stays usable from its own origin alone (docs/api.md, "CSRF").
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                allow_credentials=False,
                max_age=600,
            )
        )
    middleware.append(Middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES))
    middleware.append(
        Middleware(SecurityHeaders, strict_transport=settings.env is Environment.PRODUCTION)
    )
    return middleware
