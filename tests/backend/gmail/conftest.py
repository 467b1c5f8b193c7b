"""Fixtures for the Gmail add-on: a local stand-in for Google (an RSA key that signs ID tokens,
and a real HTTP server on 127.0.0.1 serving its public keys), and the real app on each database
with a small world whose agent sent e-mails recorded with Gmail ids."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from starlette.testclient import TestClient

from backend.actions.service import ActionInput
from backend.app import create_app
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client
from backend.database import utcnow
from backend.feedback.models import Feedback
from backend.handlers import open_state
from backend.learning import submit_action
from backend.settings import load_settings
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.conftest import empty_database
from tests.factories import World, build_world

SERVICE_ACCOUNT = "service-123456789@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
CLIENT_ID = "123456789-addon.apps.googleusercontent.com"
BASE_URL = "https://addon.example.com"
ISSUER = "https://accounts.google.com"
KID = "google-key-1"
# Gmail API ids, as the agent recorded them when it sent through Gmail.
EMAIL_MESSAGE_ID = "18f3a9c2d4e5b6a7"
EMAIL_THREAD_ID = "18f3a9c2d4e5b600"
ESCALATION_THREAD_ID = "18f3a9c2d4e5cc00"


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def google_key() -> rsa.RSAPrivateKey:
    return _private_key()


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    """A key Google never published: tokens signed with it come from someone else."""
    return _private_key()


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "alg": "RS256", "use": "sig"}


def pem_certificate(key: rsa.RSAPrivateKey) -> str:
    """A self-signed x509 certificate of ``key``, as Google's PEM map (oauth2/v1/certs) has."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class KeyServer:
    """Google's certificate endpoint, on 127.0.0.1: `/jwks` (JWKS) and `/x509` (PEM map)."""

    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    pem: dict[str, str] = field(default_factory=dict)
    max_age: int | None = 21600
    status: int = 200  # anything else: the endpoint is failing
    hits: Counter[str] = field(default_factory=Counter)
    port: int = 0

    def url(self, path: str = "/jwks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(keys: KeyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            keys.hits[self.path] += 1
            documents = {"/jwks": keys.jwks, "/x509": keys.pem}
            if self.path not in documents or keys.status != 200:
                self.send_error(404 if self.path not in documents else keys.status)
                return
            body = json.dumps(documents[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            if keys.max_age is not None:
                self.send_header("Cache-Control", f"public, max-age={keys.max_age}, no-transform")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@pytest.fixture
def key_server(google_key: rsa.RSAPrivateKey) -> Iterator[KeyServer]:
    keys = KeyServer(jwks={"keys": [jwk(google_key, KID)]}, pem={KID: pem_certificate(google_key)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(keys))
    keys.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield keys
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Google:
    """Mints ID tokens as Google does: RS256, kid in the header, iss accounts.google.com."""

    key: rsa.RSAPrivateKey
    kid: str = KID

    def token(
        self,
        *,
        aud: str,
        email: str,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        expires_in: int = 3600,
        issued_ago: int = 5,
        algorithm: str = "RS256",
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": aud,
            "sub": "1100" + str(abs(hash(email)) % 10**8),
            "email": email,
            "email_verified": True,
            "iat": now - issued_ago,
            "exp": now + expires_in,
            **claims,
        }
        signing_key: Any = key or self.key
        if algorithm.startswith("HS"):
            signing_key = "a-shared-secret-that-is-long-enough-for-hmac-256-bits"
        return jwt.encode(
            payload, signing_key, algorithm=algorithm, headers={"kid": kid or self.kid}
        )

    def caller(self, path: str, **overrides: Any) -> str:
        """The `Authorization` token Google sends to ``path`` of the add-on."""
        return self.token(**{"aud": BASE_URL + path, "email": SERVICE_ACCOUNT, **overrides})

    def user(self, email: str, **overrides: Any) -> str:
        """The Gmail user's `authorizationEventObject.userIdToken`."""
        return self.token(**{"aud": CLIENT_ID, "email": email, **overrides})


@pytest.fixture
def google(google_key: rsa.RSAPrivateKey) -> Google:
    return Google(google_key)


def event(
    google: Google,
    email: str,
    *,
    message_id: str | None = EMAIL_MESSAGE_ID,
    thread_id: str | None = EMAIL_THREAD_ID,
    parameters: dict[str, str] | None = None,
    comment: str | None = None,
    user_token: str | None = None,
) -> dict[str, Any]:
    """An add-on event object as Google posts it from Gmail."""
    common: dict[str, Any] = {
        "hostApp": "GMAIL",
        "platform": "WEB",
        "userLocale": "en",
        "timeZone": {"id": "Europe/Paris", "offset": 3600000},
    }
    if parameters is not None:
        common["parameters"] = parameters
    if comment is not None:
        common["formInputs"] = {"comment": {"stringInputs": {"value": [comment]}}}
    body: dict[str, Any] = {
        "commonEventObject": common,
        "authorizationEventObject": {
            "userOAuthToken": "ya29.not-a-real-token",
            "userIdToken": user_token if user_token is not None else google.user(email),
            "systemIdToken": google.caller("/gmail/message"),
        },
    }
    gmail = {k: v for k, v in (("messageId", message_id), ("threadId", thread_id)) if v}
    if gmail:
        body["gmail"] = {**gmail, "accessToken": "gmail-access-token"}
    return body


def rate_parameters(
    thumb: str, *, message_id: str = EMAIL_MESSAGE_ID, thread_id: str = EMAIL_THREAD_ID
) -> dict[str, str]:
    return {"messageId": message_id, "threadId": thread_id, "thumb": thumb}


@dataclass
class Addon:
    client: TestClient
    state: AppState
    google: Google
    keys: KeyServer
    world: World
    email_action_id: int
    escalation_action_id: int

    def post(
        self,
        path: str,
        body: Any,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        """POST ``body`` as Google does: JSON with its ID token for ``path``."""
        bearer = self.google.caller(path) if token is None else token
        sent = {"Authorization": f"Bearer {bearer}", **(headers or {})}
        if isinstance(body, bytes):
            return self.client.post(path, content=body, headers=sent)
        return self.client.post(path, json=body, headers=sent)

    def email_of(self, key: str) -> str:
        return self.world.users[key].email

    async def feedback(self) -> list[Feedback]:
        async with self.state.sessions() as session:
            return list(await session.scalars(select(Feedback).order_by(Feedback.id)))


@pytest.fixture
async def addon(database_url: str, key_server: KeyServer, google: Google) -> AsyncIterator[Addon]:
    settings = load_settings(
        database_url=database_url,
        worker_in_process=False,
        gmail_addon_service_account=SERVICE_ACCOUNT,
        gmail_addon_client_id=CLIENT_ID,
        gmail_addon_base_url=BASE_URL + "/",
        gmail_certs_url=key_server.url("/jwks"),
    )
    state = open_state(settings)
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            key = await create_api_key(
                session,
                viewer=Viewer.system(world.orgs["north"].id),
                kind=ApiClientKind.AGENT,
                name="agent",
                agent_id=world.agents["rep_a1"].id,
            )
            agent = await viewer_for_api_client(session, key.client)
        now = utcnow()
        email = await submit_action(
            state,
            agent,
            ActionInput(
                action_type="email",
                confidence=0.42,
                idempotency_key="gmail-email-1",
                occurred_at=now - dt.timedelta(hours=3),
                message_external_id=EMAIL_MESSAGE_ID,
                thread_external_id=EMAIL_THREAD_ID,
                subject="Pricing for <Acme> & friends",
            ),
            now=now,
        )
        escalation = await submit_action(
            state,
            agent,
            ActionInput(
                action_type="escalation",
                confidence=0.3,
                idempotency_key="gmail-escalation-1",
                occurred_at=now - dt.timedelta(hours=1),
                thread_external_id=ESCALATION_THREAD_ID,
            ),
            now=now,
        )
        with TestClient(create_app(settings)) as client:
            yield Addon(
                client, state, google, key_server, world, email.action.id, escalation.action.id
            )
    finally:
        await empty_database(state.engine)
        await state.close()
