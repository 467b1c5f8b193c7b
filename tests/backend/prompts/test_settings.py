"""Prompt settings: the reminder must come before expiry, and the policy reads the settings."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.prompts.service import PromptPolicy
from backend.settings import SettingsError, load_settings


@pytest.mark.parametrize(("remind_after", "ttl"), [(24, 24), (30, 24), (12, 6)])
def test_a_reminder_at_or_after_expiry_is_refused_naming_both(
    remind_after: float, ttl: float
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(prompt_remind_after_hours=remind_after, prompt_ttl_hours=ttl)
    message = str(raised.value)
    assert "PROMPT_REMIND_AFTER_HOURS" in message and "PROMPT_TTL_HOURS" in message
    assert f"({float(remind_after)} >= {float(ttl)})" in message


def test_the_check_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPT_TTL_HOURS", "6")  # the reminder stays at its default, 12
    with pytest.raises(
        SettingsError, match="PROMPT_REMIND_AFTER_HOURS must be less than PROMPT_TTL_HOURS"
    ):
        load_settings()
    monkeypatch.setenv("PROMPT_REMIND_AFTER_HOURS", "5.5")
    assert load_settings().prompt_remind_after_hours == 5.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("prompt_ttl_hours", 0),
        ("prompt_remind_after_hours", -1),
        ("prompt_daily_budget", -1),
        ("prompt_daily_suggestions", -2),
    ],
)
def test_out_of_range_values_name_their_variable(name: str, value: float) -> None:
    with pytest.raises(SettingsError, match=name.upper()):
        load_settings(**{name: value})


def test_the_policy_comes_from_the_settings() -> None:
    settings = load_settings(
        prompt_ttl_hours=6,
        prompt_remind_after_hours=2,
        prompt_daily_budget=4,
        prompt_daily_suggestions=1,
    )
    assert PromptPolicy.of(settings) == PromptPolicy(
        ttl=dt.timedelta(hours=6),
        remind_after=dt.timedelta(hours=2),
        daily_budget=4,
        daily_suggestions=1,
    )
    assert PromptPolicy.of(load_settings()) == PromptPolicy()  # the documented defaults
