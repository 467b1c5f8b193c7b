"""`python -m backend gmail-addon-deployment`: the descriptor Google's deployment takes, run as a
person runs it (a subprocess), pointing every trigger at this service's endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.cli import main
from backend.gmail.deployment import deployment_descriptor


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GMAIL_")}
    environment.update(LOG_LEVEL="WARNING", **env)
    return subprocess.run(
        [sys.executable, "-m", "backend", "gmail-addon-deployment", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )


def test_the_cli_prints_the_descriptor(tmp_path: Path) -> None:
    result = run_cli(
        "--base-url",
        "https://feedback.example.com/",
        "--name",
        "Rate the agent",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        PUBLIC_BASE_URL="https://feedback.example.com",
    )
    assert result.returncode == 0, result.stderr
    descriptor = json.loads(result.stdout)
    assert descriptor["oauthScopes"] == [
        "https://www.googleapis.com/auth/gmail.addons.execute",
        "https://www.googleapis.com/auth/gmail.addons.current.message.readonly",
        "https://www.googleapis.com/auth/userinfo.email",
    ]
    common = descriptor["addOns"]["common"]
    assert common["name"] == "Rate the agent"
    assert common["logoUrl"].startswith("https://")
    assert common["homepageTrigger"]["runFunction"] == "https://feedback.example.com/gmail/homepage"
    assert descriptor["addOns"]["gmail"]["contextualTriggers"] == [
        {"unconditional": {}, "onTriggerFunction": "https://feedback.example.com/gmail/message"}
    ]
    assert descriptor["addOns"]["httpOptions"] == {"authorizationHeader": "SYSTEM_ID_TOKEN"}
    assert result.stderr == ""  # the server's base URL agrees: nothing to warn about
    assert not (tmp_path / "unused.db").exists()  # printing a descriptor opens no database


def test_the_base_defaults_to_the_servers_and_a_mismatch_is_flagged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GMAIL_ADDON_BASE_URL", "https://addon.example.org")
    assert main(["gmail-addon-deployment"]) == 0
    triggers = json.loads(capsys.readouterr().out)["addOns"]["gmail"]["contextualTriggers"]
    assert triggers[0]["onTriggerFunction"] == "https://addon.example.org/gmail/message"
    assert main(["gmail-addon-deployment", "--base-url", "https://other.example.org"]) == 0
    assert "GMAIL_ADDON_BASE_URL=https://other.example.org" in capsys.readouterr().err
    assert main(["gmail-addon-deployment", "--base-url", "ftp://files.example.org"]) == 1
    assert capsys.readouterr().err.startswith("error: --base-url: base URL must be an http(s)")


@pytest.mark.parametrize("url", ["addon.example.com", "https://x.example/?a=1", "https:///path"])
def test_a_base_url_that_google_cannot_call_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base URL must be an http"):
        deployment_descriptor(url)
