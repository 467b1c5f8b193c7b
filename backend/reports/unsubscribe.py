"""One-click unsubscribe from a report's e-mails (RFC 8058) through a signed link.

The link names the subscription and its recipient, signed with HMAC-SHA256 under a key derived
from SECRET_KEY (HKDF, its own purpose), so it needs no login and cannot be forged or pointed at
another subscription. ``POST /reports/unsubscribe?token=...`` (body
``List-Unsubscribe=One-Click``, as mail clients send it) unsubscribes at once and answers 200,
again and again; ``GET`` only shows a page with a button that POSTs (mail scanners fetch links:
a GET never unsubscribes). A bad or forged token: 400; a subscription deleted since: 404.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from backend.derived_keys import derived_key, key_ring
from backend.reports.subscriptions import unsubscribe
from backend.unit_of_work import transaction

PATH = "/reports/unsubscribe"
_PURPOSE = b"report-unsubscribe:v1"


def _mac(secret_key: str, payload: str) -> str:
    digest = hmac.new(derived_key(secret_key, _PURPOSE), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def unsubscribe_token(secret_key: str, *, subscription_id: int, user_id: int) -> str:
    payload = f"{subscription_id}.{user_id}"
    return f"{payload}.{_mac(secret_key, payload)}"


def read_unsubscribe_token(secret_key: str, token: str) -> tuple[int, int] | None:
    """(subscription id, user id) of a genuine token; None for anything else."""
    parts = token.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts[:2]):
        return None
    payload = f"{parts[0]}.{parts[1]}"
    # Links mailed before a rotation of SECRET_KEY stay valid while the old key is previous.
    if not any(hmac.compare_digest(_mac(key, payload), parts[2]) for key in key_ring(secret_key)):
        return None
    return int(parts[0]), int(parts[1])


def unsubscribe_url(base_url: str, secret_key: str, *, subscription_id: int, user_id: int) -> str:
    token = unsubscribe_token(secret_key, subscription_id=subscription_id, user_id=user_id)
    return f"{base_url.rstrip('/')}{PATH}?token={quote(token)}"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;max-width:32em;margin:3em auto'>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def unsubscribe_endpoint(request: Request) -> Response:
    state = request.app.state.app
    token = request.query_params.get("token", "")
    found = read_unsubscribe_token(state.settings.secret_key, token)
    if found is None:
        return _page("Invalid link", "<p>This unsubscribe link is not valid.</p>", 400)
    subscription_id, user_id = found
    if request.method == "GET":
        action = f"{PATH}?token={quote(token)}"
        return _page(
            "Unsubscribe from this report?",
            "<p>You will receive this periodic report no more. You can subscribe again from "
            "the dashboard.</p>"
            f"<form method='post' action='{html.escape(action, quote=True)}'>"
            "<input type='hidden' name='List-Unsubscribe' value='One-Click'>"
            "<button type='submit'>Unsubscribe</button></form>",
        )
    async with transaction(state.sessions) as session:
        done = await unsubscribe(session, subscription_id, user_id=user_id, now=state.now())
    if done is None:
        return _page("Not found", "<p>This subscription no longer exists.</p>", 404)
    return _page("Unsubscribed", "<p>You will receive this report no more.</p>")


def unsubscribe_routes() -> list[Route]:
    return [Route(PATH, unsubscribe_endpoint, methods=["GET", "POST"])]
