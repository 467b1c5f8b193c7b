"""Human opens in the dashboards' trends: opens and clicks per day (rep, team) and per week
(executive), all of them and those software made, from signals stored through the real
service; each viewer sees only their scope's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from strawberry.relay import GlobalID

from backend.actions.service import ActionInput
from backend.learning import submit_action, submit_signals
from backend.signals.service import SignalInput
from backend.viewer import Viewer

RANGE = {"from": "2026-10-01", "to": "2026-10-31"}
TREND = "day opens machineOpens humanOpens clicks machineClicks humanClicks"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def at(day: int, hour: int = 10, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, 0, second, tzinfo=dt.UTC)


async def _seed(state: Any, world: Any) -> None:
    """rep_a1's agent e-mails on Monday 5 October; its opens and clicks on the 5th and 6th by
    people and by software; rep_a2's agent (same team) one e-mail opened by a person."""
    north = Viewer.system(world.orgs["north"].id)
    for rep, key in (("rep_a1", "a1"), ("rep_a2", "a2")):
        data = ActionInput(
            action_type="email",
            confidence=0.5,
            idempotency_key=f"{key}-e",
            occurred_at=at(5),
            agent_id=world.agents[rep].id,
            message_external_id=f"<{key}@mail>",
        )
        await submit_action(state, north, data, now=at(5))

    def event(kind: str, key: str, when: dt.datetime, ua: str, **extra: str) -> SignalInput:
        return SignalInput(
            kind=kind,
            source="esp",
            external_id=f"{kind}:{key}",
            occurred_at=when,
            payload={"user_agent": ua, **extra},
            message_external_id="<a2@mail>" if key == "a2" else "<a1@mail>",
        )

    signals = [
        event("email.opened", "soon", at(5, second=2), OUTLOOK),  # 2 s after sending
        event("email.opened", "read", at(5, 11), OUTLOOK),
        event("email.opened", "mpp", at(6, 8), "Mozilla/5.0"),
        event("email.clicked", "scan", at(6, 8), "Mimecast URL Protect", url="https://x.test"),
        event("email.clicked", "click", at(6, 9), CHROME, url="https://x.test"),
        event("email.opened", "a2", at(5, 15), CHROME),
    ]
    await submit_signals(state, north, signals, now=at(7))
    await submit_signals(state, north, signals[:3], now=at(7))  # a retry counts once


@pytest.fixture
def seeded(api: Any) -> Any:
    api.client.portal.call(_seed, api.client.app.state.app, api.world)
    return api


def trend(api: Any, query: str, variables: dict[str, Any], as_: str, series: str) -> dict:
    result = api.query(query, {**RANGE, **variables}, as_=as_)
    assert "errors" not in result, result["errors"]
    points = next(iter(result["data"].values()))[series]
    return {p.pop("day"): p for p in points}


def point(opens: int, machine_opens: int, clicks: int, machine_clicks: int) -> dict[str, int]:
    return {
        "opens": opens,
        "machineOpens": machine_opens,
        "humanOpens": opens - machine_opens,
        "clicks": clicks,
        "machineClicks": machine_clicks,
        "humanClicks": clicks - machine_clicks,
    }


NOTHING = point(0, 0, 0, 0)


def test_a_reps_daily_trend_counts_human_opens_apart(seeded: Any) -> None:
    query = f"""query($agent: ID!, $from: Date, $to: Date) {{
      repDashboard(agentId: $agent, from: $from, to: $to) {{ daily {{ {TREND} }} }} }}"""
    agent = str(GlobalID("Agent", str(seeded.world.agents["rep_a1"].id)))
    days = trend(seeded, query, {"agent": agent}, "rep_a1", "daily")
    assert len(days) == 31
    assert days["2026-10-05"] == point(2, 1, 0, 0)  # the open 2 s after sending is software's
    assert days["2026-10-06"] == point(1, 1, 2, 1)  # Apple's proxy; a scanner and a person
    assert all(p == NOTHING for d, p in days.items() if d not in ("2026-10-05", "2026-10-06"))


def test_a_teams_daily_trend_sums_its_agents(seeded: Any) -> None:
    query = f"""query($team: ID!, $from: Date, $to: Date) {{
      teamDashboard(teamId: $team, from: $from, to: $to) {{ daily {{ {TREND} }} }} }}"""
    team = str(GlobalID("Team", str(seeded.world.teams["alpha"].id)))
    days = trend(seeded, query, {"team": team}, "manager_a", "daily")
    assert days["2026-10-05"] == point(3, 1, 0, 0)
    assert days["2026-10-06"] == point(1, 1, 2, 1)


def test_the_executive_weekly_trend_sums_the_week(seeded: Any) -> None:
    query = f"""query($from: Date, $to: Date) {{
      executiveDashboard(from: $from, to: $to) {{ weekly {{ {TREND} }} }} }}"""
    weeks = trend(seeded, query, {}, "exec_n", "weekly")
    assert weeks["2026-10-05"] == point(4, 2, 2, 1)  # Monday 5 October's week
    assert all(p == NOTHING for w, p in weeks.items() if w != "2026-10-05")


def test_another_organisation_sees_none_of_it(seeded: Any) -> None:
    query = f"""query($from: Date, $to: Date) {{
      executiveDashboard(from: $from, to: $to) {{ weekly {{ {TREND} }} }} }}"""
    weeks = trend(seeded, query, {}, "exec_s", "weekly")
    assert all(p == NOTHING for p in weeks.values())
