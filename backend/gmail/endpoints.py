"""The add-on's HTTP endpoints. Each verifies Google's ID token (audience: the endpoint's own
URL, email: the add-on's service account) before it reads the body; then it verifies the Gmail
user's ID token, maps them to a user by email, matches the opened e-mail and answers with a card.

Refusals: 503 while the add-on is not configured, 401 for a missing or bad token (nothing read,
nothing stored), 413 for a body over 256 KiB, 400 naming the event field at fault.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.auth.service import viewer_for_user
from backend.errors import DomainError, InvalidInput
from backend.feedback.service import Thumb
from backend.gmail import cards
from backend.gmail.service import OpenedMessage, opened_summary, person_by_email, rate, save_comment
from backend.gmail.tokens import AddonTokens, GoogleKeys, KeyFetchError, TokenError
from backend.settings import Settings, SettingsError
from backend.state import AppState
from backend.unit_of_work import transaction

MAX_BODY_BYTES = 256 * 1024
HOMEPAGE_PATH = "/gmail/homepage"
MESSAGE_PATH = "/gmail/message"
RATE_PATH = "/gmail/actions/rate"
COMMENT_PATH = "/gmail/actions/comment"
USER_TOKEN_FIELD = "authorizationEventObject.userIdToken"
log = logging.getLogger(__name__)


class _Rejected(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _refuse(status: int, message: str, **headers: str) -> _Rejected:
    return _Rejected(JSONResponse({"error": message}, status_code=status, headers=headers))


def _bad_field(field: str, message: str) -> _Rejected:
    body = {"errors": [{"field": field, "code": "invalid", "message": message}]}
    return _Rejected(JSONResponse(body, status_code=400))


def addon_base_url(settings: Settings) -> str:
    """Where Google reaches the add-on: GMAIL_ADDON_BASE_URL, else PUBLIC_BASE_URL."""
    return (settings.gmail_addon_base_url or settings.public_base_url).rstrip("/")


def _section(event: dict[str, Any], name: str) -> dict[str, Any]:
    value = event.get(name)
    return value if isinstance(value, dict) else {}


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _opened(event: dict[str, Any], *, from_parameters: bool) -> OpenedMessage:
    """The Gmail ids: the button's parameters (set by our card), else the event's `gmail`."""
    gmail = _section(event, "gmail")
    parameters = (
        _section(_section(event, "commonEventObject"), "parameters") if from_parameters else {}
    )

    def pick(key: str) -> str | None:
        return _string(parameters.get(key)) or _string(gmail.get(key))

    opened = OpenedMessage(message_id=pick("messageId"), thread_id=pick("threadId"))
    if opened.message_id is None and opened.thread_id is None:
        raise _bad_field("gmail.messageId", "required: the opened message's Gmail id")
    for field, value in (
        ("gmail.messageId", opened.message_id),
        ("gmail.threadId", opened.thread_id),
    ):
        if value is not None and len(value) > 300:
            raise _bad_field(field, "must be at most 300 characters")
    return opened


def _thumb(event: dict[str, Any]) -> Thumb:
    parameters = _section(_section(event, "commonEventObject"), "parameters")
    value = parameters.get("thumb")
    if not isinstance(value, str) or value not in Thumb.__members__.values():
        raise _bad_field("commonEventObject.parameters.thumb", f"must be up or down, got {value!r}")
    return Thumb(value)


def _comment(event: dict[str, Any]) -> str | None:
    """The comment field's text: commonEventObject.formInputs.comment.stringInputs.value[0]."""
    inputs = _section(_section(event, "commonEventObject"), "formInputs")
    values = _section(_section(inputs, cards.COMMENT_INPUT), "stringInputs").get("value")
    return _string(values[0]) if isinstance(values, list) and values else None


def _problem(exc: DomainError) -> str:
    if isinstance(exc, InvalidInput) or not exc.field:
        return exc.message
    return f"{exc.field}: {exc.message}"


@dataclass
class GmailAddon:
    """The endpoints, with what they check tokens against. ``tokens`` is None while the add-on
    is not configured (``missing`` names the settings to set)."""

    base_url: str
    tokens: AddonTokens | None
    missing: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings, *, keys: GoogleKeys | None = None) -> GmailAddon:
        service_account = (settings.gmail_addon_service_account or "").strip()
        client_id = (settings.gmail_addon_client_id or "").strip()
        missing = tuple(
            name
            for name, value in (
                ("GMAIL_ADDON_SERVICE_ACCOUNT", service_account),
                ("GMAIL_ADDON_CLIENT_ID", client_id),
            )
            if not value
        )
        try:
            keys = keys or GoogleKeys(settings.gmail_certs_url)
        except ValueError as exc:
            raise SettingsError(f"invalid settings: {exc}") from None
        tokens = None if missing else AddonTokens(keys, service_account, client_id)
        return cls(addon_base_url(settings), tokens, missing)

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def action_urls(self) -> cards.ActionUrls:
        return cards.ActionUrls(rate=self.url(RATE_PATH), comment=self.url(COMMENT_PATH))

    async def _event(self, request: Request, path: str) -> tuple[dict[str, Any], AddonTokens]:
        """Google's token checked first (nothing else read before), then the body parsed."""
        if self.tokens is None:
            needed = ", ".join(self.missing)
            raise _refuse(503, f"the Gmail add-on is not configured: set {needed}")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refuse(
                401,
                "send Google's ID token as 'Authorization: Bearer <token>'",
                **{"WWW-Authenticate": "Bearer"},
            )
        try:
            await asyncio.to_thread(
                self.tokens.verify_caller, token.strip(), endpoint_url=self.url(path)
            )
        except TokenError as exc:
            log.info("gmail add-on: refused a call to %s: %s", path, exc)
            challenge = 'Bearer error="invalid_token"'
            raise _refuse(401, str(exc), **{"WWW-Authenticate": challenge}) from None
        except KeyFetchError as exc:
            log.warning("gmail add-on: %s", exc)
            raise _refuse(503, "Google's signing keys are unavailable; try again") from None
        return await _read_event(request), self.tokens

    async def _user_email(self, tokens: AddonTokens, event: dict[str, Any]) -> str:
        token = _string(_section(event, "authorizationEventObject").get("userIdToken"))
        if token is None:
            raise _bad_field(USER_TOKEN_FIELD, "required: the Gmail user's ID token")
        try:
            return await asyncio.to_thread(tokens.verify_user, token)
        except TokenError as exc:
            log.info("gmail add-on: refused a user token: %s", exc)
            raise _refuse(401, f"{USER_TOKEN_FIELD}: {exc}") from None
        except KeyFetchError as exc:
            log.warning("gmail add-on: %s", exc)
            raise _refuse(503, "Google's signing keys are unavailable; try again") from None

    async def homepage(self, request: Request) -> Response:
        try:
            event, tokens = await self._event(request, HOMEPAGE_PATH)
            email = await self._user_email(tokens, event)
        except _Rejected as rejected:
            return rejected.response
        state: AppState = request.app.state.app
        async with state.sessions() as session:
            user = await person_by_email(session, email)
        card = cards.link_account_card(email) if user is None else cards.homepage_card(user.name)
        return JSONResponse(cards.push(card))

    async def message(self, request: Request) -> Response:
        """The contextual trigger: the card of the agent action behind the opened e-mail."""
        try:
            event, tokens = await self._event(request, MESSAGE_PATH)
            opened = _opened(event, from_parameters=False)
            email = await self._user_email(tokens, event)
        except _Rejected as rejected:
            return rejected.response
        state: AppState = request.app.state.app
        async with state.sessions() as session:
            user = await person_by_email(session, email)
            if user is None:
                return JSONResponse(cards.push(cards.link_account_card(email)))
            viewer = await viewer_for_user(session, user)
            summary = await opened_summary(session, viewer, opened)
        if summary is None:
            return JSONResponse(cards.push(cards.not_the_agents_card()))
        card = cards.action_card(
            summary, opened=opened, urls=self.action_urls, zone=cards.zone_of(event)
        )
        return JSONResponse(cards.push(card))

    async def rate(self, request: Request) -> Response:
        """👍 / 👎 clicked: store (or change) the rating, with the comment typed, if any."""
        try:
            event, tokens = await self._event(request, RATE_PATH)
            opened = _opened(event, from_parameters=True)
            thumb = _thumb(event)
            email = await self._user_email(tokens, event)
        except _Rejected as rejected:
            return rejected.response
        return await self._store(request, event, opened, email, thumb=thumb)

    async def comment(self, request: Request) -> Response:
        """ "Save comment" clicked: attach the comment to the person's rating."""
        try:
            event, tokens = await self._event(request, COMMENT_PATH)
            opened = _opened(event, from_parameters=True)
            email = await self._user_email(tokens, event)
        except _Rejected as rejected:
            return rejected.response
        return await self._store(request, event, opened, email, thumb=None)

    async def _store(
        self,
        request: Request,
        event: dict[str, Any],
        opened: OpenedMessage,
        email: str,
        *,
        thumb: Thumb | None,
    ) -> Response:
        state: AppState = request.app.state.app
        comment = _comment(event)
        held: list[Any] = []
        try:
            async with transaction(state.sessions, hold=held) as session:
                user = await person_by_email(session, email)
                if user is None:
                    rated = None
                else:
                    viewer = await viewer_for_user(session, user)
                    rated = await (
                        rate(session, viewer, opened, thumb, comment)
                        if thumb is not None
                        else save_comment(session, viewer, opened, comment)
                    )
        except DomainError as exc:  # rolled back: nothing stored
            return JSONResponse(cards.notify(f"Not saved. {_problem(exc)}"))
        if user is None:
            note = "Link your account first; nothing was saved."
            return JSONResponse(cards.update(cards.link_account_card(email), note))
        if rated is None:
            note = "This e-mail is not the agent's; nothing was saved."
            return JSONResponse(cards.update(cards.not_the_agents_card(), note))
        card = cards.action_card(
            rated.summary, opened=opened, urls=self.action_urls, zone=cards.zone_of(event)
        )
        if thumb is None:
            note = "Comment saved."
        else:
            shown = cards.THUMB_TEXT[thumb]
            note = f"Thanks! Rated {shown}." if rated.created else f"Your rating is now {shown}."
        # What the rating changed (prompts answered, Slack messages redrawn, ...) is handled
        # after the card is answered.
        after = BackgroundTask(state.bus.dispatch, held) if held else None
        return JSONResponse(cards.update(card, note), background=after)


async def _read_event(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _refuse(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _refuse(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _bad_field("body", "is not a JSON event object") from None
    if not isinstance(event, dict):
        raise _bad_field("body", "must be a JSON object (an add-on event)")
    return event
