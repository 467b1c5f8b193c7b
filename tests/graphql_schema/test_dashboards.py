"""`repDashboard`, `teamDashboard`, `executiveDashboard`: numbers recomputed in Python from the
inserted rows, the human baseline in force, scope per role, foreign ids as unknown, range
errors by field."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from strawberry.relay import GlobalID

from analytics_engine.roi import compare_rates
from backend.actions.models import AgentAction
from backend.actions.service import ActionInput
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_user
from backend.baselines.models import HumanBaseline
from backend.crm.models import Deal
from backend.feedback.service import FeedbackInput
from backend.learning import submit_action, submit_rating, submit_signals
from backend.outcomes.models import Outcome
from backend.signals.service import SignalInput
from backend.unit_of_work import transaction
from backend.viewer import Viewer

SINCE, UNTIL = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
RANGE = {"from": SINCE.isoformat(), "to": UNTIL.isoformat()}

METRICS = """
  interactions
  actionsByType { actionType actions escalations critical tokens }
  escalations { count critical rate { successes count rate lower upper } }
  responses { emails pendingReplies maturingReplies meetingsBooked pendingAttendance
              maturingAttendance
              replies { successes count rate lower upper }
              versusHuman { difference differenceLower differenceUpper pValue
                            agent { rate } human { successes count rate } }
              attendance { successes count rate } }
  ratesByActionType { actionType outcomeType resolved pending maturing agent { rate }
                      versusHuman { difference } humanMinutesPerTask humanConversionRate }
  dealImpact { progressed won lost winRate { rate }
               amountWon { total { amount currency } otherCurrencies { amount currency } } }
  feedback { count prompted meanScore thumbsUp { successes count rate }
             byTarget { targetType count meanRating meanScore } }
  calibration { actionType outcomes brier debiasedError meanConfidence observedRate
                maturedOutcomes verdict verdictReason }
  cost { tokens tokensPerInteraction perInteraction { amount currency }
         total { total { amount currency } otherCurrencies { amount currency } } }
  roi { interactions escalations redone automatedTasks interactionsWithBaseline hoursSaved roi
        note promptsAnswered reviews labels
        escalation { rate lower upper } valueOfTimeSaved { amount currency }
        totalCost { amount } netValue { amount } costPerInteraction { amount }
        expected { humanHoursCaused capacityHours capped costOfHumanTime { amount } }
        low { hoursSaved roi } high { hoursSaved roi }
        assumptions { name actionType low expected high source } }
"""
TREND = """day actions escalations escalationRate replies replyOutcomes replyRate cost tokens
  provisional maturingReplies"""
REP = f"""query($agent: ID!, $from: Date, $to: Date) {{
  repDashboard(agentId: $agent, from: $from, to: $to) {{
    from to currency agent {{ name }} metrics {{ {METRICS} }} daily {{ {TREND} }} }} }}"""
TEAM = f"""query($team: ID!, $from: Date, $to: Date) {{
  teamDashboard(teamId: $team, from: $from, to: $to) {{
    from to currency team {{ name }} metrics {{ {METRICS} }}
    agents {{ agent {{ name owner {{ name }} }} metrics {{ interactions
              cost {{ total {{ total {{ amount }} }} }} roi {{ hoursSaved roi }} }} }}
    daily {{ {TREND} }} }} }}"""
EXECUTIVE = f"""query($from: Date, $to: Date) {{
  executiveDashboard(from: $from, to: $to) {{
    from to currency organization {{ slug }} metrics {{ {METRICS} }}
    teams {{ team {{ name }} metrics {{ interactions roi {{ roi hoursSaved }}
             responses {{ replies {{ rate }} }}
             calibration {{ actionType outcomes brier debiasedError meanConfidence
                            observedRate maturedOutcomes verdict verdictReason }} }} }}
    weekly {{ {TREND} }} }} }}"""


def at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, tzinfo=dt.UTC)


async def _seed(state: Any, world: Any) -> None:
    """Actions through the real services, signals that resolve some outcomes, feedback,
    a won deal's amount, and alpha's human baselines (one not yet in force)."""
    north = Viewer.system(world.orgs["north"].id)

    async def act(
        rep: str,
        key: str,
        action_type: str,
        day: int,
        cost: str,
        tokens: int,
        confidence: float = 0.5,
        **links: str,
    ) -> AgentAction:
        data = ActionInput(
            action_type=action_type,
            confidence=confidence,
            idempotency_key=key,
            occurred_at=at(day),
            cost_amount=cost,
            cost_tokens=tokens,
            agent_id=world.agents[rep].id,
            **links,
        )
        return (await submit_action(state, north, data, now=at(day, 12))).action

    a1 = [
        await act(
            "rep_a1",
            f"a1-e{i}",
            "email",
            5,
            "0.10",
            100,
            confidence=0.01 if i == 0 else 0.5,
            message_external_id=f"a1-m{i}",
        )
        for i in range(10)
    ]
    for i in range(2):
        await act("rep_a1", f"a1-x{i}", "escalation", 6, "0.20", 50)
    await act("rep_a1", "a1-meet", "meeting", 7, "0.30", 10, thread_external_id="a1-t")
    await act("rep_a1", "a1-deal", "stage_progression", 8, "0.40", 0, deal_external_id="deal-1")
    for i in range(4):
        await act("rep_a2", f"a2-e{i}", "email", 5, "0.05", 20, message_external_id=f"a2-m{i}")
    for i in range(2):
        await act("rep_b1", f"b1-e{i}", "email", 15, "0.10", 0)

    def signal(kind: str, ref: str, when: dt.datetime, **kw: Any) -> SignalInput:
        return SignalInput(
            kind=kind, source="test", external_id=f"{kind}:{ref}", occurred_at=when, **kw
        )

    signals = [
        *(
            signal(
                "email.replied",
                f"a1-m{i}",
                at(6),
                message_external_id=f"a1-m{i}",
                payload={"sentiment": "positive"},
            )
            for i in (1, 2, 3)
        ),
        *(
            signal("email.bounced", f"a1-m{i}", at(5, 11), message_external_id=f"a1-m{i}")
            for i in (4, 5)
        ),
        signal(
            "email.replied",
            "a2-m0",
            at(6),
            message_external_id="a2-m0",
            payload={"sentiment": "neutral"},
        ),
        signal("email.bounced", "a2-m1", at(5, 11), message_external_id="a2-m1"),
        signal("meeting.attended", "a1-t", at(9), thread_external_id="a1-t"),
        signal(
            "deal.stage_changed",
            "deal-1",
            at(10),
            deal_external_id="deal-1",
            payload={"from_stage": "prospecting", "to_stage": "discovery"},
        ),
        signal("deal.won", "deal-1", at(12), deal_external_id="deal-1"),
    ]
    await submit_signals(state, north, signals, now=at(20))
    rep = world.users["rep_a1"]
    async with transaction(state.sessions) as session:
        await session.execute(
            update(Deal).where(Deal.external_id == "deal-1").values(amount=Decimal("1000.00"))
        )
        alpha = world.teams["alpha"]
        for action_type, minutes, valid_from in (
            ("email", 6.0, dt.date(2026, 1, 1)),
            ("escalation", 20.0, dt.date(2026, 1, 1)),
            ("meeting", 30.0, dt.date(2026, 1, 1)),
            ("email", 600.0, dt.date(2026, 12, 1)),
        ):
            session.add(
                HumanBaseline(
                    organization_id=alpha.organization_id,
                    team_id=alpha.id,
                    action_type=action_type,
                    response_rate=0.1,
                    conversion_rate=0.02,
                    minutes_per_task=minutes,
                    loaded_hourly_cost=Decimal("50.00"),
                    currency="USD",
                    sample_size=200,
                    valid_from=valid_from,
                )
            )

    # Ratings through the service that keeps the ratings' rollup (as the channels give them).
    async with state.sessions() as session:
        author = await viewer_for_user(session, rep)
    for thumb_or_rating, target in (
        ("up", {"message_external_id": "a1-m1"}),
        ("up", {"message_external_id": "a1-m2"}),
        ("down", {"message_external_id": "a1-m3"}),
        (4, {"action_id": a1[4].id}),
        (2, {"action_id": a1[5].id}),
    ):
        scored = isinstance(thumb_or_rating, int)
        await submit_rating(
            state,
            author,
            FeedbackInput(
                channel="dashboard",
                thumb=None if scored else thumb_or_rating,
                rating=thumb_or_rating if scored else None,
                prompted=scored,
                **target,
            ),
            now=at(10),
        )


@pytest.fixture
def seeded(api: Any) -> Any:
    api.client.portal.call(_seed, api.client.app.state.app, api.world)
    return api


def gid(kind: str, row: Any) -> str:
    return str(GlobalID(kind, str(row.id)))


def data(api: Any, query: str, variables: dict[str, Any], as_: str) -> dict[str, Any]:
    result = api.query(query, variables, as_=as_)
    assert "errors" not in result, result["errors"]
    return next(iter(result["data"].values()))


async def _recompute(state: Any, agent_ids: list[int]) -> dict[str, float]:
    """The dashboard's headline numbers, recomputed in Python from the stored rows."""
    start, end = at(1, 0), dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    async with state.sessions() as session:
        actions = list(
            await session.scalars(
                select(AgentAction).where(
                    AgentAction.agent_id.in_(agent_ids),
                    AgentAction.occurred_at >= start,
                    AgentAction.occurred_at < end,
                )
            )
        )
        ids = [a.id for a in actions]
        replies = list(
            await session.scalars(
                select(Outcome).where(
                    Outcome.action_id.in_(ids),
                    Outcome.outcome_type == "email_reply",
                    Outcome.status == "resolved",
                )
            )
        )
    escalated = [a for a in actions if a.action_type == "escalation" or a.decision == "escalate"]
    cost = float(sum(a.cost_amount for a in actions))
    return {
        "interactions": len(actions),
        "escalations": len(escalated),
        "cost": cost,
        "per_interaction": cost / len(actions),
        "replies": sum(o.value for o in replies),
        "reply_outcomes": len(replies),
    }


def test_rep_dashboard_numbers_match_the_rows(seeded: Any) -> None:
    api = seeded
    agent = api.world.agents["rep_a1"]
    board = data(api, REP, {"agent": gid("Agent", agent), **RANGE}, "rep_a1")
    expected = api.client.portal.call(_recompute, api.client.app.state.app, [agent.id])
    m = board["metrics"]
    assert (board["from"], board["to"], board["currency"]) == ("2026-10-01", "2026-10-31", "USD")
    assert board["agent"]["name"] == "agent_rep_a1"
    assert m["interactions"] == expected["interactions"] == 14
    # one e-mail the policy told to escalate (confidence 0.01) + two escalation actions
    assert m["escalations"]["count"] == expected["escalations"] == 3
    assert m["escalations"]["rate"]["rate"] == pytest.approx(3 / 14)
    assert m["escalations"]["critical"] == 3
    assert m["cost"]["total"]["total"] == {
        "amount": pytest.approx(expected["cost"]),
        "currency": "USD",
    }
    assert m["cost"]["perInteraction"]["amount"] == pytest.approx(expected["per_interaction"])
    assert expected["per_interaction"] == pytest.approx(2.10 / 14)
    assert m["cost"]["tokens"] == 10 * 100 + 2 * 50 + 10
    replies = m["responses"]["replies"]
    assert (replies["successes"], replies["count"]) == (
        expected["replies"],
        expected["reply_outcomes"],
    )
    assert replies["rate"] == pytest.approx(3 / 5) and replies["lower"] < 0.6 < replies["upper"]
    assert m["responses"]["pendingReplies"] == 5 and m["responses"]["emails"] == 10
    versus = m["responses"]["versusHuman"]
    reference = compare_rates(3, 5, 20, 200)  # the baseline in force: 10% of 200
    assert versus["human"] == {"successes": 20.0, "count": 200.0, "rate": 0.1}
    assert versus["difference"] == pytest.approx(reference.difference)
    assert versus["differenceLower"] == pytest.approx(reference.difference_lower)
    assert versus["pValue"] == pytest.approx(reference.p_value)
    assert m["responses"]["meetingsBooked"] == 1
    # The meeting (October 7) was attended, but its 30-day window is still open on November 2:
    # it is maturing, outside the rate (an attended meeting decides at once, a missed one only
    # when the window closes).
    assert m["responses"]["attendance"] == {"successes": 0.0, "count": 0.0, "rate": None}
    assert m["responses"]["maturingAttendance"] == 1 and m["responses"]["maturingReplies"] == 0
    # ROI against alpha's baselines in force (e-mail 6 min, escalation 20, meeting 30; $50/h);
    # the e-mail baseline of December (600 min) is not in force yet. Hand-worked: of the 10
    # e-mails one was escalated and two were judged wrong (the thumbs down on a1-m3, the 2 of 5
    # on a1[5]): redone, they save nothing; so 7 e-mails x 6 min + the meeting's 30 min.
    hours = (6 * 7 + 30 * 1) / 60
    # People's time the agent caused, at the defaults (nothing set): 3 escalations x 10 min and
    # 2 prompts answered x 1 min.
    caused = (3 * 10 + 2 * 1) / 60
    cost = expected["cost"] + caused * 50
    roi = m["roi"]
    assert (roi["interactions"], roi["escalations"], roi["redone"]) == (14, 3, 2)
    assert roi["automatedTasks"] == 9 and roi["promptsAnswered"] == 2
    assert roi["hoursSaved"] == pytest.approx(hours)
    assert roi["expected"]["humanHoursCaused"] == pytest.approx(caused)
    assert roi["valueOfTimeSaved"] == {"amount": pytest.approx(hours * 50), "currency": "USD"}
    assert roi["totalCost"]["amount"] == pytest.approx(cost)
    assert roi["roi"] == pytest.approx((hours * 50 - cost) / cost)
    # low: 20 min per escalation, 2 per prompt; high: 5 and 0.5 (the defaults' ends)
    low_cost = expected["cost"] + (3 * 20 + 2 * 2) / 60 * 50
    high_cost = expected["cost"] + (3 * 5 + 2 * 0.5) / 60 * 50
    assert roi["low"]["roi"] == pytest.approx((hours * 50 - low_cost) / low_cost)
    assert roi["high"]["roi"] == pytest.approx((hours * 50 - high_cost) / high_cost)
    # one rep, 40 h a week over 31 days
    assert roi["expected"]["capacityHours"] == pytest.approx(40 * 31 / 7)
    assumed = {(a["name"], a["actionType"]): a for a in roi["assumptions"]}
    assert assumed[("minutes_per_task", "email")]["source"] == "human_baseline"
    assert assumed[("minutes_per_escalation", None)] == {
        "name": "minutes_per_escalation",
        "actionType": None,
        "low": 5.0,
        "expected": 10.0,
        "high": 20.0,
        "source": "default",
    }
    assert roi["interactionsWithBaseline"] == 13 and "stage_progression" in roi["note"]
    deal = m["dealImpact"]
    assert (deal["progressed"], deal["won"], deal["lost"]) == (1, 1, 0)
    assert deal["amountWon"]["total"] == {"amount": 1000.0, "currency": "USD"}
    feedback = m["feedback"]
    assert (feedback["count"], feedback["prompted"]) == (5, 2)
    assert feedback["thumbsUp"]["rate"] == pytest.approx(2 / 3)
    assert feedback["meanScore"] == pytest.approx((2 + (3 + 1) / 4) / 5)
    by_target = {t["targetType"]: t for t in feedback["byTarget"]}
    assert by_target["ACTION"]["meanRating"] == 3.0 and by_target["MESSAGE"]["count"] == 3
    calibration = {c["actionType"]: c for c in m["calibration"]}
    email = calibration["email"]
    assert email["outcomes"] == 5 and email["brier"] == pytest.approx(0.25)
    assert email["meanConfidence"] == pytest.approx(0.5)
    assert email["observedRate"] == pytest.approx(0.6)
    assert email["verdict"] == "insufficient_data"  # 5 outcomes, of matured days only
    assert email["maturedOutcomes"] == 5  # October 5 is long past the 7-day reply window
    daily = {p["day"]: p for p in board["daily"]}
    assert len(daily) == 31 and daily["2026-10-05"]["actions"] == 10
    assert daily["2026-10-05"]["escalations"] == 1
    assert daily["2026-10-05"]["replies"] == 3 and daily["2026-10-05"]["replyOutcomes"] == 5
    assert daily["2026-10-06"]["cost"] == pytest.approx(0.4)
    assert daily["2026-10-02"]["escalationRate"] is None


def test_team_and_executive_dashboards_compare_agents_and_teams(seeded: Any) -> None:
    api = seeded
    alpha, beta = api.world.teams["alpha"], api.world.teams["beta"]
    board = data(api, TEAM, {"team": gid("Team", alpha), **RANGE}, "manager_a")
    agents = [api.world.agents[k].id for k in ("rep_a1", "rep_a2")]
    expected = api.client.portal.call(_recompute, api.client.app.state.app, agents)
    m = board["metrics"]
    assert board["team"]["name"] == "alpha"
    assert m["interactions"] == expected["interactions"] == 18
    assert m["responses"]["replies"]["rate"] == pytest.approx(expected["replies"] / 7)
    assert m["cost"]["perInteraction"]["amount"] == pytest.approx(expected["per_interaction"])
    hours = (6 * (7 + 4) + 30) / 60  # a1's two redone e-mails save nothing
    assert m["roi"]["hoursSaved"] == pytest.approx(hours)
    caused = m["roi"]["expected"]["humanHoursCaused"]
    assert caused == pytest.approx((3 * 10 + 2 * 1) / 60)  # a2 escalated nothing, answered none
    cost = expected["cost"] + caused * 50
    assert m["roi"]["roi"] == pytest.approx((hours * 50 - cost) / cost)
    assert m["roi"]["expected"]["capacityHours"] == pytest.approx(2 * 40 * 31 / 7)  # two reps
    rows = {r["agent"]["name"]: r for r in board["agents"]}
    assert rows.keys() == {"agent_rep_a1", "agent_rep_a2"}
    assert rows["agent_rep_a2"]["agent"]["owner"]["name"] == "rep_a2"
    assert rows["agent_rep_a2"]["metrics"]["interactions"] == 4
    assert rows["agent_rep_a2"]["metrics"]["roi"]["hoursSaved"] == pytest.approx(4 * 6 / 60)
    assert sum(r["metrics"]["interactions"] for r in rows.values()) == m["interactions"]

    org = data(api, EXECUTIVE, RANGE, "exec_n")
    everyone = [a.id for k, a in api.world.agents.items() if k != "rep_s1"]
    expected = api.client.portal.call(_recompute, api.client.app.state.app, everyone)
    assert org["organization"]["slug"] == "north"
    assert org["metrics"]["interactions"] == expected["interactions"] == 20
    # beta has no baseline of its own: organisation-wide, a type's minutes per task come from
    # the baselines of the teams in scope (alpha's 6 min), so beta's two e-mails save time too
    hours = (6 * (7 + 4 + 2) + 30) / 60
    cost = expected["cost"] + (3 * 10 + 2 * 1) / 60 * 50
    assert org["metrics"]["roi"]["hoursSaved"] == pytest.approx(hours)
    assert org["metrics"]["roi"]["roi"] == pytest.approx((hours * 50 - cost) / cost)
    assert org["metrics"]["roi"]["interactionsWithBaseline"] == 19  # all but stage_progression
    teams = {t["team"]["name"]: t["metrics"] for t in org["teams"]}
    assert teams.keys() == {"alpha", "beta"}
    assert teams["beta"]["interactions"] == 2 and teams["beta"]["roi"]["hoursSaved"] == 0
    assert teams["beta"]["responses"]["replies"]["rate"] is None  # no resolved reply: null
    weekly = org["weekly"]
    assert weekly[0]["day"] == "2026-09-28"  # the Monday of the week holding October 1
    assert sum(w["actions"] for w in weekly) == 20
    # Team by team, the organisation's calibration (the rollup per team) is each team's own
    # (the rollup per agent, as its dashboard reads it).
    assert teams["alpha"]["calibration"], "no calibration to compare"
    for by_team, own in zip(
        teams["alpha"]["calibration"], board["metrics"]["calibration"], strict=True
    ):
        assert by_team.keys() == own.keys()
        for name, value in own.items():
            numeric = isinstance(value, float) and not isinstance(value, bool)
            assert by_team[name] == (pytest.approx(value) if numeric else value), name
    rates = {r["actionType"]: r for r in org["metrics"]["ratesByActionType"]}
    assert rates["email"]["resolved"] == 7 and rates["email"]["versusHuman"] is not None
    assert rates["stage_progression"]["versusHuman"] is None  # no baseline for it
    # beta's dashboard for the executive; alpha's team figures equal the sum of its rows
    beta_board = data(api, TEAM, {"team": gid("Team", beta), **RANGE}, "exec_n")
    assert beta_board["metrics"]["interactions"] == 2
    assert (
        beta_board["metrics"]["roi"]["roi"] is not None and beta_board["metrics"]["roi"]["roi"] < 0
    )


def test_other_currencies_are_listed_apart_never_mixed(seeded: Any) -> None:
    api = seeded
    agent = api.world.agents["rep_b1"]

    async def euro_action() -> None:
        data = ActionInput(
            action_type="email",
            confidence=0.5,
            idempotency_key="b1-eur",
            occurred_at=at(16),
            cost_amount="0.50",
            cost_currency="EUR",
            agent_id=agent.id,
        )
        north = Viewer.system(api.world.orgs["north"].id)
        await submit_action(api.client.app.state.app, north, data, now=at(16, 12))

    api.client.portal.call(euro_action)
    board = data(api, REP, {"agent": gid("Agent", agent), **RANGE}, "rep_b1")
    cost = board["metrics"]["cost"]
    assert board["currency"] == "USD"  # beta has no baseline: the currency most actions used
    assert cost["total"] == {
        "total": {"amount": pytest.approx(0.2), "currency": "USD"},
        "otherCurrencies": [{"amount": 0.5, "currency": "EUR"}],
    }
    assert cost["perInteraction"] is None
    roi = board["metrics"]["roi"]
    assert roi["roi"] is None and roi["totalCost"] is None and "EUR" in roi["note"]
    assert board["metrics"]["interactions"] == 3


def _error(api: Any, query: str, variables: dict[str, Any], as_: str) -> dict[str, Any]:
    result = api.query(query, variables, as_=as_)
    assert result["data"] is None, result
    (error,) = result["errors"]
    return {"message": error["message"], **error["extensions"]}


def test_scope_per_role_and_foreign_ids_as_unknown(api: Any) -> None:
    w = api.world
    agent = {k: gid("Agent", a) for k, a in w.agents.items()}
    team = {k: gid("Team", t) for k, t in w.teams.items()}
    for who, key in (
        ("rep_a1", "rep_a1"),
        ("manager_a", "rep_a2"),
        ("exec_n", "rep_b1"),
        ("partner_n", "rep_a1"),
        ("rep_s1", "rep_s1"),
    ):
        assert data(api, REP, {"agent": agent[key], **RANGE}, who)["agent"] is not None
    unknown = _error(api, REP, {"agent": str(GlobalID("Agent", "999999"))}, "rep_a1")
    assert unknown["code"] == "not_found" and unknown["field"] == "agentId"
    for who, key in (
        ("rep_a1", "rep_a2"),
        ("rep_a1", "rep_s1"),
        ("manager_a", "rep_b1"),
        ("exec_s", "rep_a1"),
        ("exec_n", "rep_s1"),
    ):
        assert _error(api, REP, {"agent": agent[key]}, who) == unknown
    wrong_type = _error(api, REP, {"agent": team["alpha"]}, "exec_n")
    assert wrong_type == unknown

    assert data(api, TEAM, {"team": team["alpha"]}, "manager_a")["team"]["name"] == "alpha"
    assert data(api, TEAM, {"team": team["beta"]}, "partner_n")["team"]["name"] == "beta"
    not_team = _error(api, TEAM, {"team": str(GlobalID("Team", "999999"))}, "manager_a")
    assert not_team["code"] == "not_found" and not_team["field"] == "teamId"
    for who, key in (("manager_a", "beta"), ("exec_s", "alpha"), ("exec_n", "gamma")):
        assert _error(api, TEAM, {"team": team[key]}, who) == not_team
    assert _error(api, TEAM, {"team": team["alpha"]}, "rep_a1")["code"] == "forbidden"

    assert data(api, EXECUTIVE, {}, "exec_s")["organization"]["slug"] == "south"
    assert data(api, EXECUTIVE, {}, "partner_n")["organization"]["slug"] == "north"
    for who in ("manager_a", "rep_a1"):
        assert _error(api, EXECUTIVE, {}, who)["code"] == "forbidden"
    # agent keys never read dashboards, not even their own agent's
    for query, variables in (
        (REP, {"agent": agent["rep_a1"]}),
        (TEAM, {"team": team["alpha"]}),
        (EXECUTIVE, {}),
    ):
        assert _error(api, query, variables, "agent_a1")["code"] == "forbidden"


def test_partner_key_needs_read_analytics(api: Any) -> None:
    async def narrow_key() -> str:
        state = api.client.app.state.app
        async with transaction(state.sessions) as session:
            created = await create_api_key(
                session,
                viewer=Viewer.system(api.world.orgs["north"].id),
                kind=ApiClientKind.PARTNER,
                name="narrow",
                scopes=["read:actions"],
            )
        return created.key

    api.tokens["narrow"] = api.client.portal.call(narrow_key)
    agent = gid("Agent", api.world.agents["rep_a1"])
    error = _error(api, REP, {"agent": agent}, "narrow")
    assert error["code"] == "forbidden" and "read:analytics" in error["message"]
    assert _error(api, EXECUTIVE, {}, "narrow")["code"] == "forbidden"


def test_date_range_defaults_and_errors(api: Any) -> None:
    agent = gid("Agent", api.world.agents["rep_a1"])
    board = data(api, REP, {"agent": agent}, "rep_a1")
    today = api.now().date()  # the app's clock: NOW, whatever the calendar says
    assert board["to"] == today.isoformat()
    assert board["from"] == (today - dt.timedelta(days=29)).isoformat()
    assert len(board["daily"]) == 30
    reversed_ = _error(
        api, REP, {"agent": agent, "from": "2026-10-10", "to": "2026-10-01"}, "rep_a1"
    )
    assert (reversed_["code"], reversed_["field"]) == ("invalid", "from")
    too_long = _error(api, EXECUTIVE, {"from": "2025-01-01", "to": "2026-02-05"}, "exec_n")
    assert (too_long["code"], too_long["field"]) == ("invalid", "from")
    assert "401 days" in too_long["message"]
    exactly = data(api, EXECUTIVE, {"from": "2025-01-02", "to": "2026-02-05"}, "exec_n")
    assert exactly["from"] == "2025-01-02"


def test_empty_scope_gives_nulls_not_nan(api: Any) -> None:
    board = data(api, REP, {"agent": gid("Agent", api.world.agents["rep_b1"]), **RANGE}, "exec_n")
    m = board["metrics"]
    assert m["interactions"] == 0
    assert m["escalations"]["rate"] == {
        "successes": 0.0,
        "count": 0.0,
        "rate": None,
        "lower": 0.0,
        "upper": 1.0,
    }
    assert m["cost"]["perInteraction"] is None and m["roi"]["roi"] is None
    assert m["feedback"]["meanScore"] is None and m["calibration"] == []
    assert m["responses"]["versusHuman"] is None
    assert m["cost"]["tokensPerInteraction"] is None
    assert math.isfinite(m["cost"]["total"]["total"]["amount"])


SET_ASSUMPTIONS = """mutation($input: SetRoiAssumptionsInput!) {
  setRoiAssumptions(input: $input) {
    version assumptions { name actionType low expected high source version effectiveFrom reason
                          changedBy { name } }
    errors { code field message } } }"""
HISTORY = """{ roiAssumptionHistory { name actionType expected version effectiveFrom reason
                                  changedBy { name } } }"""
ROI_ONLY = """query($agent: ID!, $from: Date, $to: Date) {
  repDashboard(agentId: $agent, from: $from, to: $to) { metrics { roi {
    hoursSaved low { hoursSaved } high { hoursSaved }
    assumptions { name actionType low expected high source version effectiveFrom } } } } }"""


def _change(api: Any, as_: str, effective_from: str, reason: str, *changes: Any) -> Any:
    variables = {
        "input": {"changes": list(changes), "effectiveFrom": effective_from, "reason": reason}
    }
    return api.query(SET_ASSUMPTIONS, variables, as_=as_)["data"]["setRoiAssumptions"]


def test_roi_assumptions_are_versioned_take_effect_on_their_day_and_are_audited(
    seeded: Any,
) -> None:
    api = seeded
    agent = {"agent": gid("Agent", api.world.agents["rep_a1"])}
    email = {"name": "minutes_per_task", "actionType": "email", "low": 4, "expected": 5, "high": 8}
    done = _change(api, "exec_n", "2026-10-15", "time study of October", email)
    assert done["errors"] == [] and done["version"] == 1
    assert done["assumptions"][0]["changedBy"] == {"name": "exec_n"}
    hourly = {"name": "loaded_hourly_cost", "low": 40, "expected": 50, "high": 70}
    assert _change(api, "exec_n", "2026-10-01", "finance's loaded rate", hourly)["version"] == 2

    def roi(until: str) -> dict[str, Any]:
        board = data(api, ROI_ONLY, {**agent, "from": "2026-10-01", "to": until}, "rep_a1")
        return board["metrics"]["roi"]

    # Over a range ending October 31 the set e-mail minutes hold: 7 e-mails done x 5 min plus
    # the meeting's 30 (its baseline), low 4 min, high 8 min.
    october = roi("2026-10-31")
    assert october["hoursSaved"] == pytest.approx((7 * 5 + 30) / 60)
    assert october["low"]["hoursSaved"] == pytest.approx((7 * 4 + 30) / 60)
    assert october["high"]["hoursSaved"] == pytest.approx((7 * 8 + 30) / 60)
    used = {(a["name"], a["actionType"]): a for a in october["assumptions"]}
    assert used[("minutes_per_task", "email")] == {
        "name": "minutes_per_task",
        "actionType": "email",
        "low": 4.0,
        "expected": 5.0,
        "high": 8.0,
        "source": "set",
        "version": 1,
        "effectiveFrom": "2026-10-15",
    }
    assert used[("loaded_hourly_cost", None)]["source"] == "set"
    # Before October 15 the e-mails' minutes are still the human baseline's 6.
    early = {(a["name"], a["actionType"]): a for a in roi("2026-10-14")["assumptions"]}
    assert early[("minutes_per_task", "email")]["source"] == "human_baseline"
    assert early[("loaded_hourly_cost", None)]["version"] == 2
    # The audit trail: every version, newest first, with who and why.
    history = data(api, HISTORY, {}, "exec_n")
    assert [(h["version"], h["name"], h["reason"]) for h in history] == [
        (2, "loaded_hourly_cost", "finance's loaded rate"),
        (1, "minutes_per_task", "time study of October"),
    ]
    assert {h["changedBy"]["name"] for h in history} == {"exec_n"}
    # Another organisation sees none of it.
    assert data(api, HISTORY, {}, "exec_s") == []


def test_roi_assumption_changes_are_checked_whole_and_refused_whole(seeded: Any) -> None:
    api = seeded
    good = {"name": "minutes_per_prompt", "low": 1, "expected": 1, "high": 2}
    cases = [
        ({"name": "minutes_per_task", "low": 5, "expected": 4, "high": 8}, "changes[1].expected"),
        ({"name": "hours_per_lunch", "low": 1, "expected": 1, "high": 1}, "changes[1].name"),
        (
            {"name": "working_hours_per_week", "low": 1, "expected": 1, "high": 200},
            "changes[1].high",
        ),
        (
            {
                "name": "loaded_hourly_cost",
                "actionType": "email",
                "low": 1,
                "expected": 1,
                "high": 1,
            },
            "changes[1].actionType",
        ),
        ({"name": "minutes_per_review", "low": -1, "expected": 1, "high": 1}, "changes[1].low"),
    ]
    for bad, field in cases:
        errors = _change(api, "exec_n", "2026-10-01", "a reason", good, bad)["errors"]
        assert [e["field"] for e in errors] == [field], (bad, errors)
    assert _change(api, "exec_n", "2026-10-01", "  ", good)["errors"][0]["field"] == "reason"
    for who in ("manager_a", "rep_a1"):
        errors = _change(api, who, "2026-10-01", "mine", good)["errors"]
        assert errors[0]["code"] == "FORBIDDEN", errors
    assert data(api, HISTORY, {}, "exec_n") == []  # nothing was written
