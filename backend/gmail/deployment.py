"""The add-on's deployment descriptor: the JSON `gcloud workspace-add-ons deployments create`
takes, pointing Google at this service's endpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from backend.gmail.endpoints import HOMEPAGE_PATH, MESSAGE_PATH

OAUTH_SCOPES = (
    # run in Gmail, and read the open message's ids (never its body: the card needs only ids)
    "https://www.googleapis.com/auth/gmail.addons.execute",
    "https://www.googleapis.com/auth/gmail.addons.current.message.readonly",
    # the user's email in their ID token: how a Gmail user maps to a user of ours
    "https://www.googleapis.com/auth/userinfo.email",
)
DEFAULT_NAME = "Sales Agent feedback"
DEFAULT_LOGO_URL = (
    "https://www.gstatic.com/images/icons/material/system/1x/thumbs_up_down_black_48dp.png"
)


def deployment_descriptor(
    base_url: str, *, name: str = DEFAULT_NAME, logo_url: str = DEFAULT_LOGO_URL
) -> dict[str, Any]:
    """The descriptor for a deployment served at ``base_url`` (http(s), no query); ValueError
    naming the argument otherwise."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"base URL must be an http(s) URL without query, got {base_url!r}")
    base = base_url.rstrip("/")
    return {
        "oauthScopes": list(OAUTH_SCOPES),
        "addOns": {
            "common": {
                "name": name,
                "logoUrl": logo_url,
                "homepageTrigger": {"runFunction": base + HOMEPAGE_PATH, "enabled": True},
            },
            "gmail": {
                "contextualTriggers": [
                    {"unconditional": {}, "onTriggerFunction": base + MESSAGE_PATH}
                ]
            },
            # Google's own ID token (audience: the endpoint URL) on every call: the default,
            # stated so that nobody switches it off by accident.
            "httpOptions": {"authorizationHeader": "SYSTEM_ID_TOKEN"},
        },
    }
