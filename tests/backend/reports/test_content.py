"""What each report holds equals what the GraphQL API answers its recipient for the same scope
and days (the real queries, executed as that person over the demo), stays inside their scope,
and its week-over-week changes carry Newcombe's interval (statsmodels as the oracle)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import confint_proportions_2indep

from analytics_engine.roi import RateEstimate, rate_estimate
from backend.errors import DomainError, NotFoundError
from backend.reports.content import (
    TREND_DAYS,
    Change,
    ExecutiveWeekly,
    ManagerDaily,
    RepWeekly,
    rate_change,
    report_content,
)
from backend.reports.models import ReportKind
from backend.reports.rendered import Period
from backend.state import AppState
from tests.backend.reports.demo_reports import (
    DAY,
    EXECUTIVE,
    MANAGER,
    OTHER_MANAGER,
    OTHER_REP,
    REP,
    TODAY,
    WEEK,
    DemoApi,
    demo_api,
    demo_state,
    gid,
    viewer,
)

__all__ = ["demo_api", "demo_state"]  # fixtures used here


@pytest.fixture(autouse=True)
def loop_at_now() -> None:
    """These tests read the demo, not the factories' world (overrides the package's fixture)."""


RATE = "successes count rate lower upper"
METRICS = f"""interactions
  escalations {{ count rate {{ {RATE} }} }}
  responses {{ maturingReplies pendingReplies replies {{ {RATE} }} attendance {{ {RATE} }} }}
  dealImpact {{ winRate {{ {RATE} }} }}
  cost {{ total {{ total {{ amount currency }} }} }}
  roi {{ hoursSaved roi }}
  ratesByActionType {{ actionType resolved maturing agent {{ {RATE} }}
    versusHuman {{ difference differenceLower differenceUpper human {{ {RATE} }} }} }}"""
TREND = "day actions escalations replies replyOutcomes provisional maturingReplies"
TEAM = f"""query($team: ID!, $from: Date, $to: Date) {{
  teamDashboard(teamId: $team, from: $from, to: $to) {{
    metrics {{ {METRICS} }}
    agents {{ agent {{ id name }} metrics {{ {METRICS} }} }}
    daily {{ {TREND} }} }} }}"""
EXECUTIVE_Q = f"""query($from: Date, $to: Date) {{
  executiveDashboard(from: $from, to: $to) {{
    metrics {{ {METRICS}
      roi {{ low {{ roi hoursSaved netValue {{ amount }} }}
             expected {{ roi hoursSaved netValue {{ amount }} }}
             high {{ roi hoursSaved netValue {{ amount }} }}
             assumptions {{ name actionType low expected high source }} }} }}
    teams {{ team {{ id name }} metrics {{ interactions responses {{ replies {{ rate }} }} }} }}
  }} }}"""
REP_Q = f"""query($agent: ID!, $from: Date, $to: Date) {{
  repDashboard(agentId: $agent, from: $from, to: $to) {{
    agent {{ id name }} metrics {{ {METRICS} }} daily {{ {TREND} }} }} }}"""
CALIBRATION = """query($type: String!, $team: ID, $from: Date, $to: Date) {
  calibration(actionType: $type, teamId: $team, from: $from, to: $to) {
    sampleSize debiasedError verdict { kind reason }
    reliabilityCurve { count meanConfidence observedRate wilsonLower wilsonUpper } } }"""
STRATEGY = """query($from: Date, $to: Date) {
  strategicView(from: $from, to: $to) {
    actionTypes { actionType actions recommendation
      roi { expected { hoursSaved netValue { amount } } } } } }"""
ALERTS = """query($after: String, $state: [AlertState!]) {
  alerts(first: 100, after: $after, state: $state) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id severity state message firedAt team { id } agent { id } } } } }"""
POLICY = """query($type: String!, $agent: ID!) {
  policyHistory(actionType: $type, agentId: $agent, first: 100) {
    edges { node { version reason changedAt escalateBelow autonomousAbove } } } }"""


def _n(value: float) -> float | None:
    return None if math.isnan(value) else value


def same_rate(ours: RateEstimate, theirs: dict[str, Any]) -> None:
    assert ours.successes == theirs["successes"]
    assert ours.count == theirs["count"]
    for key in ("rate", "lower", "upper"):
        assert _n(getattr(ours, key)) == theirs[key], key


def same_metrics(ours: Any, theirs: dict[str, Any]) -> None:
    """Every figure a report takes from a dashboard's metrics, against the API's."""
    assert ours.interactions == theirs["interactions"]
    assert ours.escalations.count == theirs["escalations"]["count"]
    same_rate(ours.escalations.rate, theirs["escalations"]["rate"])
    responses = theirs["responses"]
    assert ours.responses.maturing_replies == responses["maturingReplies"]
    assert ours.responses.pending_replies == responses["pendingReplies"]
    same_rate(ours.responses.replies, responses["replies"])
    same_rate(ours.responses.attendance, responses["attendance"])
    same_rate(ours.deal_impact.win_rate, theirs["dealImpact"]["winRate"])
    assert ours.costs.total.total.amount == theirs["cost"]["total"]["total"]["amount"]
    assert ours.costs.total.total.currency == theirs["cost"]["total"]["total"]["currency"]
    assert ours.roi.range.expected.hours_saved == theirs["roi"]["hoursSaved"]
    rates = {r["actionType"]: r for r in theirs["ratesByActionType"]}
    assert [r.action_type for r in ours.rates_by_action_type] == list(rates)
    for r in ours.rates_by_action_type:
        api = rates[r.action_type]
        assert (r.resolved, r.maturing) == (api["resolved"], api["maturing"])
        same_rate(r.agent, api["agent"])
        if r.versus_human is None:
            assert api["versusHuman"] is None
        else:
            v = api["versusHuman"]
            same_rate(r.versus_human.human, v["human"])
            assert _n(r.versus_human.difference) == v["difference"]
            assert _n(r.versus_human.difference_lower) == v["differenceLower"]
            assert _n(r.versus_human.difference_upper) == v["differenceUpper"]


def same_trend(ours: Any, theirs: list[dict[str, Any]]) -> None:
    assert [p.day.isoformat() for p in ours] == [p["day"] for p in theirs]
    for p, api in zip(ours, theirs, strict=True):
        assert (p.actions, p.escalations, p.replies, p.reply_outcomes) == (
            api["actions"],
            api["escalations"],
            api["replies"],
            api["replyOutcomes"],
        )
        assert (p.provisional, p.maturing_replies) == (api["provisional"], api["maturingReplies"])


def dates(period: Period) -> dict[str, str]:
    return {"from": period.start.isoformat(), "to": period.last_day.isoformat()}


def all_alerts(api: DemoApi, as_: str, state: list[str] | None = None) -> list[dict[str, Any]]:
    found, after = [], None
    while True:
        page = api.query(ALERTS, {"after": after, "state": state}, as_=as_)["alerts"]
        found.extend(e["node"] for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def fired_in(alert: dict[str, Any], period: Period) -> bool:
    fired = dt.datetime.fromisoformat(alert["firedAt"]).astimezone(dt.UTC).date()
    return period.start <= fired < period.end


def same_calibration(api: DemoApi, as_: str, content: Any, team: str | None) -> None:
    assert content.calibration, "calibration health lists the action types"
    for h in content.calibration:
        assert (h.until - h.since).days + 1 == 28 and h.until <= content.period.last_day
        data = api.query(
            CALIBRATION,
            {"type": h.action_type, "team": team, "from": str(h.since), "to": str(h.until)},
            as_=as_,
        )["calibration"]
        r = h.report
        assert round(r.n) == data["sampleSize"]
        assert r.verdict.kind.value.upper() == data["verdict"]["kind"]
        assert r.verdict.reason == data["verdict"]["reason"]
        bins = [(b.count, _n(b.mean_confidence), _n(b.observed_rate)) for b in r.reliability]
        assert bins == [
            (b["count"], b["meanConfidence"], b["observedRate"]) for b in data["reliabilityCurve"]
        ]
        assert [(b.wilson_lower, b.wilson_upper) for b in r.reliability] == [
            (b["wilsonLower"], b["wilsonUpper"]) for b in data["reliabilityCurve"]
        ]


async def content_of(state: AppState, api: DemoApi, email: str, kind: ReportKind, **k: Any) -> Any:
    key = (email, kind, tuple(sorted(k.items())))
    if key not in api.cache:
        who = await viewer(state, api, email)
        period = DAY if kind is ReportKind.MANAGER_DAILY else WEEK
        api.cache[key] = await report_content(
            state.reads, who, kind=kind, period=period, today=TODAY, **k
        )
    return api.cache[key]


async def manager_content(state: AppState, api: DemoApi) -> ManagerDaily:
    who = await viewer(state, api, MANAGER)
    assert who.team_ids is not None and len(who.team_ids) == 1
    (team,) = who.team_ids
    c = await content_of(state, api, MANAGER, ReportKind.MANAGER_DAILY, team_id=team)
    assert isinstance(c, ManagerDaily)
    return c


# -- the manager's daily report ----------------------------------------------------------------


async def test_manager_daily_holds_what_the_api_answers_the_manager(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    c = await manager_content(demo_state, demo_api)
    team = gid("Team", c.team_id)
    day = demo_api.query(TEAM, {"team": team, **dates(DAY)}, as_=MANAGER)["teamDashboard"]
    same_metrics(c.day.metrics, day["metrics"])
    assert [a.agent_id for a in c.day.agents] == [
        int(_node(a["agent"]["id"])) for a in day["agents"]
    ]
    for ours, theirs in zip(c.day.agents, day["agents"], strict=True):
        same_metrics(ours.metrics, theirs["metrics"])
        assert c.agent_names[ours.agent_id] == theirs["agent"]["name"]
    since = DAY.last_day - dt.timedelta(days=TREND_DAYS - 1)
    trend = demo_api.query(
        TEAM, {"team": team, "from": str(since), "to": str(DAY.last_day)}, as_=MANAGER
    )["teamDashboard"]
    same_metrics(c.trend.metrics, trend["metrics"])
    same_trend(c.trend.daily, trend["daily"])
    assert len(c.trend.daily) == TREND_DAYS
    # the last days are provisional (their reply windows are open) and are marked so
    assert c.trend.daily[-1].provisional and not c.trend.daily[0].provisional
    same_calibration(demo_api, MANAGER, c, team)


async def test_manager_daily_lists_the_alerts_coaching_and_queues_the_api_lists(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    c = await manager_content(demo_state, demo_api)
    agents = {gid("Agent", a) for a in c.agent_names}

    def about_team(a: dict[str, Any]) -> bool:
        return (a["team"] or {}).get("id") == gid("Team", c.team_id) or (
            (a["agent"] or {}).get("id") in agents
        )

    every = [a for a in all_alerts(demo_api, MANAGER) if about_team(a)]
    opened = [int(_node(a["id"])) for a in every if fired_in(a, DAY)]
    assert [a.id for a in c.alerts.opened] == opened
    still = [a for a in all_alerts(demo_api, MANAGER, ["FIRING", "ACKNOWLEDGED"]) if about_team(a)]
    assert c.alerts.open_count == len(still) > 0
    assert [a.id for a in c.alerts.open] == [int(_node(a["id"])) for a in still][:5]
    insights = demo_api.query(
        """query($team: ID!) { coachingInsights(teamId: $team, status: NEW, first: 100) {
             totalCount edges { node { statement } } } }""",
        {"team": gid("Team", c.team_id)},
        as_=MANAGER,
    )["coachingInsights"]
    assert c.coaching_new == insights["totalCount"] > 0
    statements = {e["node"]["statement"] for e in insights["edges"]}
    assert c.coaching and {i.statement for i in c.coaching} <= statements
    queues = demo_api.query(
        "{ labelQueue(first: 5) { totalCount } feedbackPrompts(state: OPEN, first: 5) "
        "{ totalCount } }",
        as_=MANAGER,
    )
    assert c.label_queue.total == queues["labelQueue"]["totalCount"]
    assert c.prompts.total == queues["feedbackPrompts"]["totalCount"]


async def test_manager_daily_lists_each_policy_change_of_its_day_with_its_reason(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    who = await viewer(demo_state, demo_api, MANAGER)
    (team,) = who.team_ids or ()
    expected = []
    # The demo's policies move at its learning loop's moments: take the team's days of them.
    c = await manager_content(demo_state, demo_api)
    for agent_id in c.agent_names:
        for action_type in ("email", "escalation", "follow_up", "meeting", "stage_progression"):
            response = demo_api.client.post(
                "/graphql",
                json={
                    "query": POLICY,
                    "variables": {"type": action_type, "agent": gid("Agent", agent_id)},
                },
                headers={"Authorization": f"Bearer {demo_api.tokens[MANAGER]}"},
            ).json()
            if response.get("data") is None:
                continue  # no policy for that type
            for e in response["data"]["policyHistory"]["edges"]:
                expected.append((agent_id, action_type, e["node"]))
    changed_days = sorted(
        {dt.datetime.fromisoformat(n["changedAt"]).astimezone(dt.UTC).date() for *_, n in expected}
    )
    day = next(d for d in reversed(changed_days) if any(n["version"] > 1 for *_, n in expected))
    period = Period.of(ReportKind.MANAGER_DAILY, day)
    content = await report_content(
        demo_state.reads,
        who,
        kind=ReportKind.MANAGER_DAILY,
        period=period,
        today=TODAY,
        team_id=team,
    )
    assert isinstance(content, ManagerDaily)
    in_day = sorted(
        (a, t, n["version"], n["reason"])
        for a, t, n in expected
        if dt.datetime.fromisoformat(n["changedAt"]).astimezone(dt.UTC).date() == day
    )
    assert in_day
    assert (
        sorted((p.agent_id, p.action_type, p.version, p.reason) for p in content.policy_changes)
        == in_day
    )


# -- the executive's and the rep's weekly reports ----------------------------------------------


async def test_executive_weekly_holds_what_the_api_answers_the_executive(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    c = await content_of(demo_state, demo_api, EXECUTIVE, ReportKind.EXECUTIVE_WEEKLY)
    assert isinstance(c, ExecutiveWeekly)
    assert c.previous == Period(WEEK.start - dt.timedelta(days=7), WEEK.start)
    week = demo_api.query(EXECUTIVE_Q, dates(WEEK), as_=EXECUTIVE)["executiveDashboard"]
    before = demo_api.query(EXECUTIVE_Q, dates(c.previous), as_=EXECUTIVE)["executiveDashboard"]
    same_metrics(c.week.metrics, week["metrics"])
    same_metrics(c.previous_week.metrics, before["metrics"])
    roi = week["metrics"]["roi"]
    for case in ("low", "expected", "high"):
        ours = getattr(c.week.metrics.roi.range, case)
        assert (_n(ours.roi), ours.hours_saved, ours.net_value) == (
            roi[case]["roi"],
            roi[case]["hoursSaved"],
            roi[case]["netValue"]["amount"],
        )
    assert [(a.name, a.span.expected, a.source) for a in c.week.metrics.roi.assumptions] == [
        (a["name"], a["expected"], a["source"]) for a in roi["assumptions"]
    ]
    assert [gid("Team", t.team_id) for t in c.week.teams] == [
        t["team"]["id"] for t in week["teams"]
    ]
    strategy = demo_api.query(STRATEGY, dates(WEEK), as_=EXECUTIVE)["strategicView"]
    assert [
        (s.action_type, s.actions, s.recommendation.advice.value) for s in c.strategy.action_types
    ] == [(s["actionType"], s["actions"], s["recommendation"]) for s in strategy["actionTypes"]]
    # week over week: the rates of the two weeks as the API gives them
    reply = next(x for x in c.changes if x.name == "Reply rate")
    now_, then = week["metrics"]["responses"]["replies"], before["metrics"]["responses"]["replies"]
    assert (_n(reply.current), _n(reply.previous)) == (now_["rate"], then["rate"])
    assert reply.rate is not None and reply.rate.agent.count == now_["count"]
    same_calibration(demo_api, EXECUTIVE, c, None)
    notable = [
        a
        for a in all_alerts(demo_api, EXECUTIVE)
        if fired_in(a, WEEK) and a["severity"] in ("WARNING", "CRITICAL")
    ]
    assert [a.id for a in c.alerts.opened] == [int(_node(a["id"])) for a in notable]


async def test_rep_weekly_holds_their_agents_week_and_their_prompts(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    c = await content_of(demo_state, demo_api, REP, ReportKind.REP_WEEKLY)
    assert isinstance(c, RepWeekly)
    who = await viewer(demo_state, demo_api, REP)
    assert who.agent_ids == frozenset({c.agent_id})
    agent = gid("Agent", c.agent_id)
    week = demo_api.query(REP_Q, {"agent": agent, **dates(WEEK)}, as_=REP)["repDashboard"]
    before = demo_api.query(REP_Q, {"agent": agent, **dates(c.previous)}, as_=REP)["repDashboard"]
    assert week["agent"]["name"] == c.agent_name
    same_metrics(c.week.metrics, week["metrics"])
    same_metrics(c.previous_week.metrics, before["metrics"])
    same_trend(c.week.daily, week["daily"])
    prompts = demo_api.query(
        "query($me: ID!) { feedbackPrompts(state: OPEN, assigneeId: $me, first: 5) "
        "{ totalCount } }",
        {"me": gid("User", demo_api.users[REP])},
        as_=REP,
    )["feedbackPrompts"]
    assert c.prompts.total == prompts["totalCount"]
    alerts = [a for a in all_alerts(demo_api, REP) if (a["agent"] or {}).get("id") == agent]
    assert [a.id for a in c.alerts.opened] == [
        int(_node(a["id"])) for a in alerts if fired_in(a, WEEK)
    ]


# -- scope -------------------------------------------------------------------------------------


async def test_a_manager_reads_only_a_team_they_manage(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    mine = await manager_content(demo_state, demo_api)
    other = await viewer(demo_state, demo_api, OTHER_MANAGER)
    (other_team,) = other.team_ids or ()
    who = await viewer(demo_state, demo_api, MANAGER)
    with pytest.raises(NotFoundError):
        await report_content(
            demo_state.reads,
            who,
            kind=ReportKind.MANAGER_DAILY,
            period=DAY,
            today=TODAY,
            team_id=other_team,
        )
    # their own report's agents are their team's, none of the other team's
    theirs = await content_of(
        demo_state, demo_api, OTHER_MANAGER, ReportKind.MANAGER_DAILY, team_id=other_team
    )
    assert set(mine.agent_names) == set(who.agent_ids or ())
    assert not set(mine.agent_names) & set(theirs.agent_names)
    assert {a.agent_id for a in mine.day.agents} == set(mine.agent_names)
    # a rep cannot read a team's daily report, not even their own team's
    rep = await viewer(demo_state, demo_api, REP)
    with pytest.raises(NotFoundError):
        await report_content(
            demo_state.reads,
            rep,
            kind=ReportKind.MANAGER_DAILY,
            period=DAY,
            today=TODAY,
            team_id=(rep.team_ids and next(iter(rep.team_ids))) or mine.team_id,
        )


async def test_a_reps_digest_is_about_their_own_agent_only(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    rep = await viewer(demo_state, demo_api, REP)
    other = await viewer(demo_state, demo_api, OTHER_REP)
    (foreign,) = other.agent_ids or ()
    with pytest.raises(NotFoundError):
        await report_content(
            demo_state.reads,
            rep,
            kind=ReportKind.REP_WEEKLY,
            period=WEEK,
            today=TODAY,
            agent_id=foreign,
        )
    with pytest.raises(DomainError):  # the executive's weekly report is for organisation readers
        await report_content(
            demo_state.reads, rep, kind=ReportKind.EXECUTIVE_WEEKLY, period=WEEK, today=TODAY
        )


# -- week over week: Newcombe's interval of the difference of two rates -------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(0, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_a_rate_change_carries_newcombes_interval(
    current: tuple[int, int], previous: tuple[int, int]
) -> None:
    (s1, n1), (s2, n2) = current, previous
    change = rate_change("r", rate_estimate(s1, n1), rate_estimate(s2, n2))
    assert change.rate is not None
    if n1 == 0 or n2 == 0:
        assert math.isnan(change.difference)
        assert not change.significant
        return
    # statsmodels' Newcombe hybrid score interval (method 10 of Newcombe 1998)
    lower, upper = confint_proportions_2indep(s1, n1, s2, n2, method="newcomb", compare="diff")
    assert change.rate.difference_lower == pytest.approx(lower, abs=1e-9)
    assert change.rate.difference_upper == pytest.approx(upper, abs=1e-9)
    assert change.difference == pytest.approx(s1 / n1 - s2 / n2)
    assert change.significant == (lower > 0 or upper < 0)


def test_counts_change_without_an_interval() -> None:
    change = Change("Actions", 120, 100)
    assert change.difference == 20
    assert change.rate is None and not change.significant


def _node(global_id: str) -> str:
    from strawberry.relay import GlobalID

    return GlobalID.from_id(global_id).node_id
