"""The dashboards' trend points carry each rate with its Wilson 95 % interval and its n
(`replyRateEstimate`, `escalationRateEstimate`), daily and weekly, from the same rows as the
rest of the dashboard (the seed of test_dashboards)."""

from __future__ import annotations

from typing import Any

import pytest
from statsmodels.stats.proportion import proportion_confint

from tests.graphql_schema.test_dashboards import RANGE, _seed, data, gid

RATES = """day actions escalations escalationRate replies replyOutcomes replyRate provisional
  escalationRateEstimate { successes count rate lower upper }
  replyRateEstimate { successes count rate lower upper }"""
REP = f"""query($agent: ID!, $from: Date, $to: Date) {{
  repDashboard(agentId: $agent, from: $from, to: $to) {{ daily {{ {RATES} }} }} }}"""
TEAM = f"""query($team: ID!, $from: Date, $to: Date) {{
  teamDashboard(teamId: $team, from: $from, to: $to) {{ daily {{ {RATES} }} }} }}"""
EXECUTIVE = f"""query($from: Date, $to: Date) {{
  executiveDashboard(from: $from, to: $to) {{ weekly {{ {RATES} }} }} }}"""


@pytest.fixture
def seeded(api: Any) -> Any:
    api.client.portal.call(_seed, api.client.app.state.app, api.world)
    return api


def wilson(successes: float, count: float) -> dict[str, Any]:
    lower, upper = proportion_confint(successes, count, alpha=0.05, method="wilson")
    return {
        "successes": successes,
        "count": count,
        "rate": pytest.approx(successes / count),
        "lower": pytest.approx(float(lower), abs=1e-12),
        "upper": pytest.approx(float(upper), abs=1e-12),
    }


def check(point: dict[str, Any]) -> None:
    """Every point: the estimate is the point's own rate and counts, or null without any."""
    reply, escalation = point["replyRateEstimate"], point["escalationRateEstimate"]
    if point["replyOutcomes"]:
        assert reply == wilson(point["replies"], point["replyOutcomes"])
        assert reply["rate"] == pytest.approx(point["replyRate"])
    else:
        assert reply is None and point["replyRate"] is None
    if point["actions"]:
        assert escalation == wilson(point["escalations"], point["actions"])
        assert escalation["rate"] == pytest.approx(point["escalationRate"])
    else:
        assert escalation is None and point["escalationRate"] is None


def test_rep_daily_points_have_wilson_intervals_and_their_n(seeded: Any) -> None:
    api = seeded
    agent = gid("Agent", api.world.agents["rep_a1"])
    daily = {p["day"]: p for p in data(api, REP, {"agent": agent, **RANGE}, "rep_a1")["daily"]}
    for point in daily.values():
        check(point)
    # October 5: 3 positive replies of 5 decided (the tooltip's exact values and n)
    five = daily["2026-10-05"]
    assert five["replyRateEstimate"] == wilson(3, 5)
    assert five["replyRateEstimate"]["lower"] < 0.6 < five["replyRateEstimate"]["upper"]
    assert five["escalationRateEstimate"] == wilson(1, 10)
    # October 6: two escalation actions, both escalations: 100 %, but not [1, 1]
    six = daily["2026-10-06"]["escalationRateEstimate"]
    assert (six["rate"], six["count"], six["upper"]) == (1.0, 2, 1.0)
    assert six["lower"] == pytest.approx(0.3423802275066532, abs=1e-12)
    assert daily["2026-10-02"]["escalationRateEstimate"] is None


def test_team_daily_and_executive_weekly_points(seeded: Any) -> None:
    api = seeded
    team = gid("Team", api.world.teams["alpha"])
    daily = data(api, TEAM, {"team": team, **RANGE}, "manager_a")["daily"]
    for point in daily:
        check(point)
    five = next(p for p in daily if p["day"] == "2026-10-05")
    assert five["replyRateEstimate"]["count"] == 7  # a1's 5 and a2's 2
    weekly = data(api, EXECUTIVE, RANGE, "exec_n")["weekly"]
    for point in weekly:
        check(point)
    assert sum(p["escalationRateEstimate"]["count"] for p in weekly if p["actions"]) == 20
