"""The Gmail add-on's routes, for the app to mount."""

from __future__ import annotations

from starlette.routing import Route

from backend.gmail.endpoints import COMMENT_PATH, HOMEPAGE_PATH, MESSAGE_PATH, RATE_PATH, GmailAddon
from backend.gmail.tokens import GoogleKeys
from backend.settings import Settings


def gmail_routes(settings: Settings, *, keys: GoogleKeys | None = None) -> list[Route]:
    """POST endpoints for the homepage, the contextual (message open) trigger and the card's
    buttons. ``keys`` replaces the key cache built from GMAIL_CERTS_URL (tests)."""
    addon = GmailAddon.from_settings(settings, keys=keys)
    return [
        Route(HOMEPAGE_PATH, addon.homepage, methods=["POST"], name="gmail_homepage"),
        Route(MESSAGE_PATH, addon.message, methods=["POST"], name="gmail_message"),
        Route(RATE_PATH, addon.rate, methods=["POST"], name="gmail_rate"),
        Route(COMMENT_PATH, addon.comment, methods=["POST"], name="gmail_comment"),
    ]
