"""The sign-in pages and the session endpoint of the dashboard (server-rendered, no script).

- ``GET /auth/sign-in``: the form asking for an e-mail address; in development also the demo's
  people, each with a one-click sign-in (``POST /auth/dev-sign-in``, 404 outside development).
- ``POST /auth/sign-in``: mails a link (the same answer for any address: no enumeration).
- ``GET /auth/link?token=``: a page with a button (mail scanners fetch links; a GET uses
  nothing); ``POST /auth/link`` redeems it, sets the session cookie and redirects to ``/``.
- ``POST /auth/sign-out``: revokes the session, clears the cookie, back to the sign-in page.
- ``GET /auth/session``: who is signed in, as JSON (401 when nobody).

Every POST here must come from the service's own origin (`backend.auth.csrf`): no other site
can sign a browser in, or out.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from backend.auth.csrf import cross_site_problem
from backend.auth.sessions import SESSION_COOKIE, OpenedSession
from backend.auth.sign_in import (
    LINK_PATH,
    LINK_TTL,
    LinkToSend,
    demo_people,
    link_is_usable,
    link_url,
    normalized_address,
    open_demo_session,
    redeem_link,
    request_link,
    sign_in_email,
    sign_out,
    viewer_of_cookie,
)
from backend.errors import DomainError
from backend.orgs.models import Organization, User
from backend.settings import Environment, Settings
from backend.state import AppState
from backend.unit_of_work import transaction

Mailer = Callable[[Settings, EmailMessage], Awaitable[None]]

SIGN_IN_PATH = "/auth/sign-in"
DEV_SIGN_IN_PATH = "/auth/dev-sign-in"
SIGN_OUT_PATH = "/auth/sign-out"
SESSION_PATH = "/auth/session"
MAX_FORM_BYTES = 4096
log = logging.getLogger(__name__)

_HEADERS = {
    "Cache-Control": "no-store",
    # Same-origin: our forms' POSTs keep their Origin; a link's token never leaves in a Referer.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'>"
        f"<title>{html.escape(title)}</title></head>"
        "<body style='font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em'>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers=_HEADERS,
    )


def _form_post(action: str, fields: dict[str, str], button: str) -> str:
    hidden = "".join(
        f"<input type='hidden' name='{html.escape(k, quote=True)}' "
        f"value='{html.escape(v, quote=True)}'>"
        for k, v in fields.items()
    )
    return (
        f"<form method='post' action='{html.escape(action, quote=True)}'>{hidden}"
        f"<button type='submit'>{html.escape(button)}</button></form>"
    )


def _refused(problem: str) -> HTMLResponse:
    return _page(
        "Refused",
        f"<p>{html.escape(problem)}.</p><p><a href='{SIGN_IN_PATH}'>Go to the sign-in page</a></p>",
        403,
    )


async def _form(request: Request) -> dict[str, str]:
    """The fields of a url-encoded form (nothing for another body, or one too large)."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    except ValueError:  # too many fields
        return {}
    return {k: v[0] for k, v in fields.items()}


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.app
    return state


def _session_ttl(settings: Settings) -> dt.timedelta:
    return dt.timedelta(days=settings.session_ttl_days)


def _signed_in(response: Response, settings: Settings, opened: OpenedSession) -> Response:
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=int(_session_ttl(settings).total_seconds()),
        path="/",
        secure=settings.env is not Environment.DEVELOPMENT,
        httponly=True,
        samesite="lax",
    )
    return response


def _client(request: Request) -> tuple[str | None, str | None]:
    return (request.client.host if request.client else None), request.headers.get("user-agent")


def _sign_in_form(message: str = "") -> str:
    note = f"<p role='alert'><strong>{html.escape(message)}</strong></p>" if message else ""
    return (
        f"{note}<form method='post' action='{SIGN_IN_PATH}'>"
        "<p><label>E-mail address<br>"
        "<input type='email' name='email' autocomplete='email' required size='30'></label></p>"
        "<p><button type='submit'>E-mail me a sign-in link</button></p></form>"
    )


async def _demo_list(state: AppState) -> str:
    async with state.reads() as session:
        people = await demo_people(session)
    if not people:
        return (
            "<h2>Development</h2><p>Seed the demo (<code>python -m backend seed-demo</code>) "
            "to sign in here as one of its people.</p>"
        )
    items = "".join(
        "<li style='margin:.3em 0'>"
        + _form_post(
            DEV_SIGN_IN_PATH,
            {"user_id": str(person.id)},
            f"{person.name}, {person.role} ({person.email})",
        )
        + "</li>"
        for person in people
    )
    return (
        "<h2>Development</h2><p>Sign in as one of the demo's people (never offered in "
        f"production):</p><ul style='list-style:none;padding:0'>{items}</ul>"
    )


async def sign_in_page(request: Request) -> Response:
    state = _state(request)
    demo = await _demo_list(state) if state.settings.env is Environment.DEVELOPMENT else ""
    return _page("Sign in", _sign_in_form() + demo)


async def _deliver(state: AppState, send: Mailer, link: LinkToSend) -> None:
    """Mail a link (after the response: the answer takes as long for any address)."""
    settings = state.settings
    url = link_url(settings.public_base_url, link.token)
    if settings.smtp_host is None:
        if settings.env is Environment.DEVELOPMENT:
            log.warning("SMTP_HOST is not set; the sign-in link for %s: %s", link.address, url)
        else:
            log.error("SMTP_HOST is not set: a sign-in link for %s was not sent", link.address)
        return
    message = sign_in_email(link, url=url, sender=settings.smtp_sender, now=state.now())
    try:
        await send(settings, message)
    except Exception:
        log.exception("the sign-in link for %s could not be sent", link.address)


def request_link_endpoint(send: Mailer) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state = _state(request)
        if problem := cross_site_problem(request, state.settings):
            return _refused(problem)
        address = normalized_address((await _form(request)).get("email", ""))
        if address is None:
            return _page("Sign in", _sign_in_form("Enter an e-mail address."), 400)
        client_ip, user_agent = _client(request)
        async with transaction(state.sessions) as session:
            link = await request_link(
                session,
                address=address,
                now=state.now(),
                client_ip=client_ip,
                user_agent=user_agent,
            )
        minutes = int(LINK_TTL.total_seconds() // 60)
        response = _page(
            "Check your inbox",
            f"<p>If <strong>{html.escape(address)}</strong> may use the dashboard, a sign-in "
            f"link is on its way to it. The link works once, for {minutes} minutes.</p>"
            f"<p><a href='{SIGN_IN_PATH}'>Use another address</a></p>",
        )
        if link is not None:
            response.background = BackgroundTask(_deliver, state, send, link)
        return response

    return endpoint


def _link_refused() -> HTMLResponse:
    return _page(
        "This link cannot be used",
        "<p>It has expired or was already used. Links work once, for a short while.</p>"
        f"<p><a href='{SIGN_IN_PATH}'>Ask for a new one</a></p>",
        400,
    )


async def link_page(request: Request) -> Response:
    state = _state(request)
    token = request.query_params.get("token", "")
    async with state.reads() as session:
        usable = bool(token) and await link_is_usable(session, token, now=state.now())
    if not usable:
        return _link_refused()
    return _page(
        "Sign in",
        "<p>Sign in to the Sales Agent dashboard in this browser?</p>"
        + _form_post(LINK_PATH, {"token": token}, "Sign in"),
    )


async def redeem_endpoint(request: Request) -> Response:
    state = _state(request)
    if problem := cross_site_problem(request, state.settings):
        return _refused(problem)
    token = (await _form(request)).get("token", "")
    _, user_agent = _client(request)
    now = state.now()
    async with transaction(state.sessions) as session:
        opened = None
        if token:
            opened = await redeem_link(
                session, token, now=now, ttl=_session_ttl(state.settings), user_agent=user_agent
            )
        if opened is not None and (previous := request.cookies.get(SESSION_COOKIE)):
            await sign_out(session, previous, now=now)  # a new sign-in replaces the old one
    if opened is None:
        return _link_refused()
    return _signed_in(RedirectResponse("/", 303, headers=_HEADERS), state.settings, opened)


async def dev_sign_in_endpoint(request: Request) -> Response:
    state = _state(request)
    if state.settings.env is not Environment.DEVELOPMENT:
        return Response("Not Found", 404, media_type="text/plain")
    if request.method != "POST":
        return Response("Method Not Allowed", 405, {"Allow": "POST"}, media_type="text/plain")
    if problem := cross_site_problem(request, state.settings):
        return _refused(problem)
    user_id = (await _form(request)).get("user_id", "")
    _, user_agent = _client(request)
    async with transaction(state.sessions) as session:
        opened = None
        if user_id.isdigit():
            opened = await open_demo_session(
                session,
                int(user_id),
                now=state.now(),
                ttl=_session_ttl(state.settings),
                user_agent=user_agent,
            )
    if opened is None:
        return _page("Not one of the demo's people", _sign_in_form(), 400)
    return _signed_in(RedirectResponse("/", 303, headers=_HEADERS), state.settings, opened)


async def sign_out_endpoint(request: Request) -> Response:
    state = _state(request)
    if problem := cross_site_problem(request, state.settings):
        return _refused(problem)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with transaction(state.sessions) as session:
            await sign_out(session, token, now=state.now())
    response = RedirectResponse(SIGN_IN_PATH, 303, headers=_HEADERS)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=state.settings.env is not Environment.DEVELOPMENT,
        httponly=True,
        samesite="lax",
    )
    return response


def global_id(type_name: str, row_id: int) -> str:
    """The GraphQL API's global id of a row (base64 of ``Type:id``, as Relay's)."""
    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


def _ids(type_name: str, ids: frozenset[int] | None) -> list[str] | None:
    return None if ids is None else [global_id(type_name, i) for i in sorted(ids)]


async def session_endpoint(request: Request) -> Response:
    """Who is signed in (the dashboard asks before anything else), or 401."""
    state = _state(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    headers = {"Cache-Control": "no-store"}
    try:
        viewer, owner = await viewer_of_cookie(state, token)
    except DomainError:
        return JSONResponse({"signedIn": False, "signIn": SIGN_IN_PATH}, 401, headers=headers)
    async with state.reads() as session:
        user, organization = (
            await session.execute(
                select(User, Organization)
                .join(Organization, Organization.id == User.organization_id)
                .where(User.id == owner.user_id)
            )
        ).one()
    body: dict[str, Any] = {
        "signedIn": True,
        "user": {
            "id": global_id("User", user.id),
            "email": user.email,
            "name": user.name,
        },
        "role": viewer.role.value,
        "organization": {
            "id": global_id("Organization", organization.id),
            "slug": organization.slug,
            "name": organization.name,
        },
        # null: the whole organisation (executives and administrators)
        "teamIds": _ids("Team", viewer.team_ids),
        "agentIds": _ids("Agent", viewer.agent_ids),
        "expiresAt": owner.expires_at.isoformat(),
        "signOut": SIGN_OUT_PATH,
    }
    return JSONResponse(body, headers=headers)


def auth_routes(send: Mailer) -> list[Route]:
    """The sign-in routes; ``send`` mails a message over the SMTP settings."""
    return [
        Route(SIGN_IN_PATH, sign_in_page, methods=["GET"]),
        Route(SIGN_IN_PATH, request_link_endpoint(send), methods=["POST"]),
        Route(LINK_PATH, link_page, methods=["GET"]),
        Route(LINK_PATH, redeem_endpoint, methods=["POST"]),
        Route(DEV_SIGN_IN_PATH, dev_sign_in_endpoint, methods=["GET", "POST"]),
        Route(SIGN_OUT_PATH, sign_out_endpoint, methods=["POST"]),
        Route(SESSION_PATH, session_endpoint, methods=["GET"]),
    ]
