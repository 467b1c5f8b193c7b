"""`calibration`, `calibrationHistory`, `policy` and `policyHistory`: numbers equal to the engine's
on the same outcomes, scope per role, foreign ids as unknown, argument errors by field."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from sqlalchemy import event, select
from statsmodels.stats.proportion import proportion_confint
from strawberry.relay import GlobalID

from analytics_engine.calibration import (
    CalibrationStats,
    calibration_errors,
    debiased_calibration_error,
    log_loss,
)
from analytics_engine.policy import PolicyThresholds, follow_evidence
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_user
from backend.calibration.models import CalibrationVerdict
from backend.calibration.repository import Interval, calibration_history
from backend.calibration.rollup import add_predictions
from backend.calibration.service import reassess
from backend.database import create_engine, create_sessionmaker
from backend.outcomes.resolution import ResolvedPrediction
from backend.policy.service import follow_outcomes, freeze_policy, policy_defaults
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.factories import NOW

TODAY = NOW.date()  # the app's clock starts at NOW (tests/graphql_schema/conftest.py)
# Escalations are judged after their 30-day window closed: every day here has matured (the last
# matured day is TODAY - 31), but for rep_s1's last 10 outcomes, which are still maturing.
A1_DAYS = [TODAY - dt.timedelta(days=d) for d in (40, 39, 38, 37, 36)]
MATURED_UNTIL = TODAY - dt.timedelta(days=31)
MATURING_DAY = TODAY - dt.timedelta(days=5)

CALIBRATION = """
query($type: String!, $agent: ID, $team: ID, $from: Date, $to: Date) {
  calibration(actionType: $type, agentId: $agent, teamId: $team, from: $from, to: $to) {
    actionType from to sampleSize brierScore logLoss ece mce debiasedError debiasedSquaredError
    brierDecomposition { score reliability resolution uncertainty withinBinVariance
                         withinBinCovariance binnedScore }
    spiegelhalter { z pValue }
    observedExpected { observed expected ratio lower upper z pValue direction }
    hosmerLemeshow { statistic degreesOfFreedom pValue groups }
    reliabilityCurve { lower upper count meanConfidence observedRate wilsonLower wilsonUpper
                       jeffreysLower jeffreysUpper }
    corp { score mcb dsc unc points { meanConfidence calibrated observedRate count } }
    verdict { kind actionable sampleSize z observedExpected debiasedError reason }
    recalibration { method sampleSize points { raw calibrated } source pooledWeight siblings
                    reason chosenBy { chosen reason candidates { candidate leaveOneOutLogLoss } } }
  }
}"""
HISTORY = """
query($type: String!, $agent: ID, $team: ID, $interval: CalibrationInterval!) {
  calibrationHistory(actionType: $type, agentId: $agent, teamId: $team, interval: $interval) {
    periodStart sampleSize brierScore debiasedError ece observedExpected verdict
  }
}"""
POLICY = """
query($type: String!, $agent: ID) {
  policy(actionType: $type, agentId: $agent) {
    actionType escalateBelow autonomousAbove frozen version updatedAt agent { name }
    calibratedConfidence { method sampleSize points { raw calibrated } }
    evidence { moveAt fedThrough
      escalation { threshold raiseEValue lowerEValue outcomes lastMove }
      autonomy { threshold raiseEValue lowerEValue outcomes lastMove } }
  }
}"""
POLICY_HISTORY = """
query($type: String!, $agent: ID, $first: Int, $after: String) {
  policyHistory(actionType: $type, agentId: $agent, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { version previousEscalateBelow previousAutonomousAbove escalateBelow
                   autonomousAbove reason evidence changedBy changedAt user { name } } }
  }
}"""


@dataclass
class Outcomes:
    p: dict[str, list[float]] = field(default_factory=dict)  # by agent key
    y: dict[str, list[float]] = field(default_factory=dict)
    per_day: dict[dt.date, int] = field(default_factory=dict)  # rep_a1's


def _predictions(world, key: str, days: list[dt.date], p: np.ndarray, y: np.ndarray) -> list:
    agent = world.agents[key]
    return [
        ResolvedPrediction(
            agent.organization_id, agent.id, "escalation", days[i % len(days)], float(pi), float(yi)
        )
        for i, (pi, yi) in enumerate(zip(p, y, strict=True))
    ]


async def _seed(url: str, api) -> Outcomes:
    """rep_a1's escalations are overconfident (success ≈ 0.55·p, p in [0.6, 0.95]); rep_a2 says
    0.5 every time (Spiegelhalter undefined); rep_b1 (team beta) and rep_s1 (south) have a few.
    Then rep_a1's policy moves (system, version 2) and manager_a freezes it (version 3)."""
    world, rng, out = api.world, np.random.default_rng(20261126), Outcomes()
    p = rng.uniform(0.6, 0.95, 300)
    out.p["rep_a1"], out.y["rep_a1"] = list(p), list((rng.random(300) < 0.55 * p).astype(float))
    out.p["rep_a2"], out.y["rep_a2"] = [0.5] * 20, [float(i % 2) for i in range(20)]
    out.p["rep_b1"], out.y["rep_b1"] = [0.3] * 40, [float(i % 3 == 0) for i in range(40)]
    out.p["rep_s1"], out.y["rep_s1"] = [0.7] * 50, [1.0] * 50
    days = {
        "rep_a1": A1_DAYS,
        "rep_a2": [TODAY - dt.timedelta(days=45)],
        "rep_b1": [TODAY - dt.timedelta(days=55)],
        "rep_s1": [TODAY - dt.timedelta(days=50)],
    }
    for i in range(300):
        out.per_day[A1_DAYS[i % 5]] = out.per_day.get(A1_DAYS[i % 5], 0) + 1
    engine = create_engine(url)
    try:
        sessions = create_sessionmaker(engine)
        async with transaction(sessions) as session:
            for key in out.p:
                await add_predictions(
                    session,
                    _predictions(world, key, days[key], np.array(out.p[key]), np.array(out.y[key])),
                )
            # Decided early (a success is known at once), on a day whose window is still open.
            await add_predictions(
                session,
                _predictions(world, "rep_s1", [MATURING_DAY], np.full(10, 0.7), np.ones(10)),
            )
        a1 = world.agents["rep_a1"]
        async with transaction(sessions) as session:
            assessment = await reassess(
                session,
                organization_id=a1.organization_id,
                agent_id=a1.id,
                action_type="escalation",
                today=TODAY,
            )
            await follow_outcomes(
                session,
                organization_id=a1.organization_id,
                agent_id=a1.id,
                action_type="escalation",
                p=[0.75] * 200,
                y=[1.0, 0.0, 0.0, 1.0, 0.0] * 40,
                through=TODAY,
                config=assessment.config,
            )
        async with transaction(sessions) as session:
            manager = await viewer_for_user(session, world.users["manager_a"])
            await freeze_policy(
                session,
                manager,
                agent_id=a1.id,
                action_type="escalation",
                frozen=True,
                reason="hold while we review",
            )
            narrow = await create_api_key(
                session,
                viewer=Viewer.system(a1.organization_id),
                kind=ApiClientKind.AGENT,
                name="narrow",
                agent_id=a1.id,
                scopes=["write:actions"],
            )
            api.tokens["agent_a1_narrow"] = narrow.key
            partner = await create_api_key(
                session,
                viewer=Viewer.system(a1.organization_id),
                kind=ApiClientKind.PARTNER,
                name="actions only",
                scopes=["read:actions"],
            )
            api.tokens["partner_narrow"] = partner.key
    finally:
        await engine.dispose()
    return out


@pytest.fixture
def data(api, database_url: str) -> Outcomes:
    return asyncio.run(_seed(database_url, api))


def gid(kind: str, id_: int) -> str:
    return str(GlobalID(kind, str(id_)))


def agent(api, key: str) -> str:
    return gid("Agent", api.world.agents[key].id)


def calibration(api, as_: str, **variables):
    return api.query(CALIBRATION, {"type": "escalation", **variables}, as_=as_)


def error_of(result) -> tuple[str, str | None, str]:
    assert result["data"] is None or not any(result["data"].values()), result
    (error,) = result["errors"]
    return error["extensions"]["code"], error["extensions"].get("field"), error["message"]


def test_agent_calibration_equals_the_engine_on_the_same_outcomes(api, data) -> None:
    result = calibration(api, "rep_a1", agent=agent(api, "rep_a1"))
    assert "errors" not in result, result
    c = result["data"]["calibration"]
    p, y = np.array(data.p["rep_a1"]), np.array(data.y["rep_a1"])
    engine = CalibrationStats.from_arrays(p, y, n_bins=20)
    assert c["sampleSize"] == 300
    assert c["from"] == str(TODAY - dt.timedelta(days=89)) and c["to"] == str(TODAY)
    assert c["brierScore"] == pytest.approx(float(np.mean((p - y) ** 2)), rel=1e-9)
    d = c["brierDecomposition"]
    parts = (
        d["reliability"]
        - d["resolution"]
        + d["uncertainty"]
        + d["withinBinVariance"]
        - d["withinBinCovariance"]
    )
    assert parts == pytest.approx(c["brierScore"], abs=1e-12)
    assert c["logLoss"] == pytest.approx(log_loss(engine), rel=1e-9)
    assert c["ece"] == pytest.approx(calibration_errors(engine).ece, rel=1e-9)
    debiased = debiased_calibration_error(engine)
    assert c["debiasedError"] == pytest.approx(debiased.error, rel=1e-9)
    assert c["debiasedSquaredError"] == pytest.approx(debiased.squared, rel=1e-9)
    oe = c["observedExpected"]
    assert oe["ratio"] == pytest.approx(y.sum() / p.sum(), rel=1e-9)
    assert oe["direction"] == "OVERCONFIDENT" and oe["lower"] < oe["ratio"] < oe["upper"] < 1
    bins = c["reliabilityCurve"]
    assert len(bins) == 20 and sum(b["count"] for b in bins) == 300
    assert [b["count"] for b in bins] == engine.count.tolist()
    assert [(b["lower"], b["upper"]) for b in bins[5:7]] == [(0.25, 0.3), (0.3, 0.35)]
    empty = [b for b in bins if b["count"] == 0]
    assert len(empty) == 13  # no confidence below 0.6 or from 0.95
    assert all(b["meanConfidence"] is None and b["observedRate"] is None for b in empty)
    assert all((b["wilsonLower"], b["wilsonUpper"]) == (0, 1) for b in empty)
    full = bins[12]
    in_bin = (p >= 0.6) & (p < 0.65)
    assert full["count"] == in_bin.sum()
    assert full["observedRate"] == pytest.approx(y[in_bin].mean(), rel=1e-9)
    assert full["wilsonLower"] <= full["observedRate"] <= full["wilsonUpper"]
    corp = c["corp"]
    assert sum(pt["count"] for pt in corp["points"]) == 300
    assert corp["score"] == pytest.approx(corp["mcb"] - corp["dsc"] + corp["unc"], abs=1e-12)
    assert corp["score"] == pytest.approx(d["binnedScore"], abs=1e-12)
    verdict = c["verdict"]
    assert verdict["kind"] == "OVERCONFIDENT" and verdict["actionable"]
    assert verdict["observedExpected"] == pytest.approx(oe["ratio"], rel=1e-12)
    assert c["hosmerLemeshow"]["groups"] >= 3 and c["spiegelhalter"]["z"] is not None
    # One agent: the map its actions are calibrated with, as stored by `reassess`.
    assert c["recalibration"]["method"] == "PLATT" and c["recalibration"]["sampleSize"] == 300
    calibrated = [pt["calibrated"] for pt in c["recalibration"]["points"]]
    assert len(calibrated) == 21 and calibrated == sorted(calibrated)
    assert calibrated[18] < 0.6  # 0.9 raw means far less
    # Why this map: its siblings (rep_a2, rep_b1: one confidence each) have no fit to pool
    # with, so the evidence chose among its own candidates.
    m = c["recalibration"]
    assert (m["source"], m["pooledWeight"], m["siblings"]) == ("UNPOOLED", 0, 0)
    assert m["reason"].startswith("Fewer than two other agents of this action type")
    assert m["chosenBy"]["chosen"] == "PLATT" and "leave-one-out" in m["chosenBy"]["reason"]
    losses = {x["candidate"]: x["leaveOneOutLogLoss"] for x in m["chosenBy"]["candidates"]}
    assert losses["POOLED"] is None and losses["PLATT"] < losses["IDENTITY"]


def test_undefined_numbers_are_null_and_empty_scopes_have_every_bin(api, data) -> None:
    a2 = calibration(api, "rep_a2")["data"]["calibration"]  # every p is 0.5
    assert a2["sampleSize"] == 20 and a2["spiegelhalter"] == {"z": None, "pValue": None}
    assert a2["verdict"]["kind"] == "INSUFFICIENT_DATA" and a2["verdict"]["z"] is None
    # Too few of its own: rep_a2's actions are calibrated with the organisation's map (fitted
    # by `reassess` on the organisation's 360 matured escalations).
    assert a2["recalibration"]["method"] == "PLATT" and a2["recalibration"]["sampleSize"] == 360
    nothing = api.query(CALIBRATION, {"type": "meeting"}, as_="exec_n")["data"]["calibration"]
    assert nothing["sampleSize"] == 0 and nothing["brierScore"] is None
    assert nothing["brierDecomposition"] is None and nothing["observedExpected"] is None
    assert nothing["corp"] is None and nothing["debiasedError"] is None
    assert [b["count"] for b in nothing["reliabilityCurve"]] == [0] * 20
    assert nothing["verdict"]["kind"] == "INSUFFICIENT_DATA"
    assert nothing["verdict"]["observedExpected"] is None
    assert nothing["recalibration"]["points"][10] == {"raw": 0.5, "calibrated": 0.5}


def test_each_role_sees_its_scope(api, data) -> None:
    expected = {
        "rep_a1": 300,
        "rep_a2": 20,
        "rep_b1": 40,
        "manager_a": 320,
        "exec_n": 360,
        "partner_n": 360,
        "agent_a1": 300,
        "rep_s1": 50,
        "exec_s": 50,
    }
    for who, n in expected.items():
        result = calibration(api, who)
        assert result["data"]["calibration"]["sampleSize"] == n, (who, result)
    assert (
        calibration(api, "manager_a", agent=agent(api, "rep_a2"))["data"]["calibration"][
            "sampleSize"
        ]
        == 20
    )
    # A wider scope reports the map fitted on its own outcomes.
    team = calibration(api, "manager_a")["data"]["calibration"]
    assert team["recalibration"]["method"] == "PLATT" and team["recalibration"]["sampleSize"] == 320


def test_team_scope(api, data) -> None:
    alpha, beta = (gid("Team", api.world.teams[t].id) for t in ("alpha", "beta"))
    gamma = gid("Team", api.world.teams["gamma"].id)
    for who, team, n in (
        ("exec_n", alpha, 320),
        ("exec_n", beta, 40),
        ("manager_a", alpha, 320),
        ("partner_n", beta, 40),
        ("rep_a1", alpha, 300),
    ):
        result = calibration(api, who, team=team)
        assert result["data"]["calibration"]["sampleSize"] == n, (who, result)
        # A team's map is fitted on its outcomes (no basis); a rep's team is their one agent.
        source = result["data"]["calibration"]["recalibration"]["source"]
        assert source == ("UNPOOLED" if who == "rep_a1" else None), who
    unknown = error_of(calibration(api, "manager_a", team=gid("Team", 999999)))
    assert unknown[:2] == ("not_found", "teamId")
    for who, team in (("manager_a", beta), ("rep_a1", beta), ("exec_n", gamma), ("exec_s", alpha)):
        assert error_of(calibration(api, who, team=team)) == unknown, who
    both = error_of(calibration(api, "exec_n", team=alpha, agent=agent(api, "rep_a1")))
    assert both[:2] == ("invalid", "teamId")


def test_out_of_scope_agents_are_unknown(api, data) -> None:
    unknown = error_of(calibration(api, "rep_a2", agent=gid("Agent", 999999)))
    assert unknown[:2] == ("not_found", "agentId")
    cases = [
        ("rep_a2", "rep_a1"),
        ("rep_a1", "rep_s1"),
        ("manager_a", "rep_b1"),
        ("agent_a1", "rep_a2"),
        ("exec_s", "rep_a1"),
    ]
    for who, whose in cases:
        assert error_of(calibration(api, who, agent=agent(api, whose))) == unknown, (who, whose)
    wrong_type = gid("Team", api.world.teams["alpha"].id)
    for malformed in (wrong_type, "garbage", str(GlobalID("Agent", "abc"))):
        assert error_of(calibration(api, "exec_n", agent=malformed)) == unknown, malformed
    history = api.query(
        HISTORY,
        {"type": "escalation", "agent": agent(api, "rep_a1"), "interval": "DAY"},
        as_="rep_a2",
    )
    assert error_of(history) == unknown


def test_api_keys_need_their_read_scope(api, data) -> None:
    denied = error_of(calibration(api, "agent_a1_narrow"))
    assert denied[0] == "forbidden" and "read:policy" in denied[2]
    assert error_of(api.query(POLICY, {"type": "escalation"}, as_="agent_a1_narrow"))[0] == (
        "forbidden"
    )
    partner = error_of(calibration(api, "partner_narrow"))
    assert partner[0] == "forbidden" and "read:calibration" in partner[2]
    a1 = agent(api, "rep_a1")
    for query in (POLICY, POLICY_HISTORY, HISTORY):
        variables = {"type": "escalation", "agent": a1, "interval": "DAY"}
        result = api.query(
            query,
            variables
            if query is HISTORY
            else {k: v for k, v in variables.items() if k != "interval"},
            as_="partner_narrow",
        )
        assert error_of(result)[0] == "forbidden"


def test_bad_arguments_name_their_field(api, data) -> None:
    later, earlier = str(TODAY), str(TODAY - dt.timedelta(days=1))
    assert error_of(calibration(api, "exec_n", **{"from": later, "to": earlier}))[:2] == (
        "invalid",
        "from",
    )
    too_long = str(TODAY - dt.timedelta(days=400))
    assert error_of(calibration(api, "exec_n", **{"from": too_long}))[:2] == ("invalid", "from")
    longest = str(TODAY - dt.timedelta(days=399))
    ok = calibration(api, "exec_n", **{"from": longest})["data"]["calibration"]
    assert ok["from"] == longest and ok["sampleSize"] == 360
    one_day = calibration(api, "rep_a1", **{"from": str(A1_DAYS[0]), "to": str(A1_DAYS[0])})
    assert one_day["data"]["calibration"]["sampleSize"] == data.per_day[A1_DAYS[0]]
    bad_type = api.query(CALIBRATION, {"type": "Not A Type"}, as_="exec_n")
    assert error_of(bad_type)[:2] == ("invalid", "actionType")
    not_a_date = api.query(CALIBRATION, {"type": "email", "from": "yesterday"}, as_="exec_n")
    assert not_a_date["errors"] and not_a_date.get("data") is None


def test_history_has_one_point_per_day_with_data(api, data) -> None:
    variables = {"type": "escalation", "agent": agent(api, "rep_a1"), "interval": "DAY"}
    points = api.query(HISTORY, variables, as_="rep_a1")["data"]["calibrationHistory"]
    assert [pt["periodStart"] for pt in points] == [str(d) for d in sorted(A1_DAYS)]
    p, y = np.array(data.p["rep_a1"]), np.array(data.y["rep_a1"])
    day_of = np.array([A1_DAYS[i % 5] for i in range(300)])
    for pt in points:
        mine = day_of == dt.date.fromisoformat(pt["periodStart"])
        assert pt["sampleSize"] == data.per_day[dt.date.fromisoformat(pt["periodStart"])]
        assert pt["brierScore"] == pytest.approx(float(np.mean((p[mine] - y[mine]) ** 2)))
        assert pt["observedExpected"] == pytest.approx(y[mine].sum() / p[mine].sum())
        assert pt["verdict"] == "INSUFFICIENT_DATA"  # 60 outcomes a day
    weeks = api.query(HISTORY, {**variables, "interval": "WEEK"}, as_="rep_a1")["data"][
        "calibrationHistory"
    ]
    mondays = sorted({d - dt.timedelta(days=d.weekday()) for d in A1_DAYS})
    assert [pt["periodStart"] for pt in weeks] == [str(m) for m in mondays]
    assert sum(pt["sampleSize"] for pt in weeks) == 300
    team = api.query(HISTORY, {"type": "escalation", "interval": "DAY"}, as_="manager_a")
    assert [pt["sampleSize"] for pt in team["data"]["calibrationHistory"]] == [
        20,
        *(data.per_day[d] for d in sorted(A1_DAYS)),
    ]


INTERVALS = """
query($type: String!, $agent: ID, $team: ID, $interval: CalibrationInterval!) {
  calibrationHistory(actionType: $type, agentId: $agent, teamId: $team, interval: $interval) {
    periodStart sampleSize observedExpected observedExpectedLower observedExpectedUpper
  }
}"""


def test_history_points_carry_the_observed_expected_interval(api, data) -> None:
    variables = {"type": "escalation", "agent": agent(api, "rep_a1"), "interval": "DAY"}
    points = api.query(INTERVALS, variables, as_="rep_a1")["data"]["calibrationHistory"]
    assert len(points) == len(A1_DAYS)
    p, y = np.array(data.p["rep_a1"]), np.array(data.y["rep_a1"])
    day_of = np.array([A1_DAYS[i % 5] for i in range(300)])
    for pt in points:
        day = dt.date.fromisoformat(pt["periodStart"])
        mine = day_of == day
        n, observed, expected = int(mine.sum()), int(y[mine].sum()), float(p[mine].sum())
        # Oracle: statsmodels' Wilson interval of the day's success rate, scaled by n / E
        # (the O/E ratio is the success rate over the mean confidence).
        low, high = proportion_confint(observed, n, alpha=0.05, method="wilson")
        assert pt["observedExpectedLower"] == pytest.approx(low * n / expected, rel=1e-9)
        assert pt["observedExpectedUpper"] == pytest.approx(high * n / expected, rel=1e-9)
        assert pt["observedExpectedLower"] < pt["observedExpected"] < pt["observedExpectedUpper"]
        # The same numbers as the whole-range O/E of that one day.
        whole = calibration(
            api, "rep_a1", agent=agent(api, "rep_a1"), **{"from": str(day)}, to=str(day)
        )
        oe = whole["data"]["calibration"]["observedExpected"]
        assert (pt["observedExpectedLower"], pt["observedExpectedUpper"]) == pytest.approx(
            (oe["lower"], oe["upper"])
        )
    # The team's history: every day of rep_a1's with its own interval, rep_a2's day too.
    team = api.query(INTERVALS, {**variables, "agent": None}, as_="manager_a")
    by_day = {pt["periodStart"]: pt for pt in team["data"]["calibrationHistory"]}
    for pt in points:
        assert by_day[pt["periodStart"]] == pt
    (a2_day,) = set(by_day) - {pt["periodStart"] for pt in points}
    low, high = proportion_confint(10, 20, alpha=0.05, method="wilson")  # 10 of 20 at p = 0.5
    assert by_day[a2_day]["observedExpectedLower"] == pytest.approx(low * 20 / 10)
    assert by_day[a2_day]["observedExpectedUpper"] == pytest.approx(high * 20 / 10)


MATURITY = """
query($from: Date, $to: Date) {
  calibration(actionType: "escalation", from: $from, to: $to) {
    from to maturedUntil sampleSize maturingOutcomes observedExpected { observed expected }
  }
  calibrationHistory(actionType: "escalation", from: $from, to: $to, interval: DAY) {
    periodStart sampleSize
  }
}"""


def test_days_still_maturing_are_counted_apart_never_judged(api, data) -> None:
    """rep_s1's 10 early successes of TODAY - 5 would lift its rate; they wait for their window
    (30 days for an escalation) to close, in every range that holds them."""
    whole = api.query(MATURITY, {}, as_="exec_s")["data"]
    c = whole["calibration"]
    assert (c["to"], c["maturedUntil"]) == (str(TODAY), str(MATURED_UNTIL))
    assert (c["sampleSize"], c["maturingOutcomes"]) == (50, 10)
    assert c["observedExpected"]["observed"] == 50
    assert [p["periodStart"] for p in whole["calibrationHistory"]] == [
        str(TODAY - dt.timedelta(days=50))
    ]
    recent = {"from": str(TODAY - dt.timedelta(days=10)), "to": str(TODAY)}
    only_maturing = api.query(MATURITY, recent, as_="exec_s")["data"]
    assert only_maturing["calibration"]["sampleSize"] == 0
    assert only_maturing["calibration"]["maturingOutcomes"] == 10
    assert only_maturing["calibrationHistory"] == []
    # Once the window has closed, the same outcomes are judged.
    api.clock.advance(dt.timedelta(days=30))
    try:
        later = api.query(MATURITY, recent, as_="exec_s")["data"]["calibration"]
    finally:
        api.clock.advance(dt.timedelta(days=-30))
    assert (later["sampleSize"], later["maturingOutcomes"]) == (10, 0)


async def _statements_of_history(url: str, organization_id: int, interval: Interval) -> int:
    """Statements that read the calibration rollup (the organisation's settings are read too)."""
    engine = create_engine(url)
    statements: list[str] = []
    event.listen(
        engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    try:
        async with create_sessionmaker(engine)() as session:
            points = await calibration_history(
                session,
                Viewer.system(organization_id),
                action_type="escalation",
                interval=interval,
                today=TODAY,
            )
        assert sum(p.n for p in points) == 360 and len(points) >= 2
        return sum("calibration_stats" in s for s in statements)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("interval", list(Interval))
def test_history_is_one_grouped_query(api, data, database_url: str, interval: Interval) -> None:
    north = api.world.orgs["north"].id
    assert asyncio.run(_statements_of_history(database_url, north, interval)) == 1


def test_policy_after_changes(api, data) -> None:
    a1 = agent(api, "rep_a1")
    result = api.query(POLICY, {"type": "escalation", "agent": a1}, as_="rep_a1")
    assert "errors" not in result, result
    policy = result["data"]["policy"]
    assert policy["version"] == 3 and policy["frozen"] and policy["agent"]["name"] == "agent_rep_a1"
    assert policy["autonomousAbove"] > 0.75 and policy["escalateBelow"] == 0.35  # autonomy up
    assert policy["calibratedConfidence"]["method"] == "PLATT"
    # The dead bands' evidence since each threshold last moved; the oracle is the engine on the
    # outcomes the fixture fed (200 escalations at 0.75, 40 % good).
    evidence = policy["evidence"]
    assert (evidence["moveAt"], evidence["fedThrough"]) == (100.0, TODAY.isoformat())
    fed = follow_evidence(
        PolicyThresholds(0.35, 0.75),
        None,
        [0.75] * 200,
        [1.0, 0.0, 0.0, 1.0, 0.0] * 40,
        policy_defaults("escalation", None).target,
    )
    for name, band in (
        ("escalation", fed.evidence.escalation),
        ("autonomy", fed.evidence.autonomy),
    ):
        assert evidence[name] == {
            "threshold": band.threshold,
            "raiseEValue": pytest.approx(band.e_value("raise")),
            "lowerEValue": pytest.approx(band.e_value("lower")),
            "outcomes": band.seen,
            "lastMove": band.last_move,
        }
    assert evidence["autonomy"]["lastMove"] == "raise" and evidence["autonomy"]["outcomes"] > 0
    # The agent's own key may leave its agent out; a partner reads it with read:calibration.
    for who, variables in (
        ("agent_a1", {}),
        ("partner_n", {"agent": a1}),
        ("manager_a", {"agent": a1}),
        ("exec_n", {"agent": a1}),
    ):
        other = api.query(POLICY, {"type": "escalation", **variables}, as_=who)
        assert other["data"]["policy"] == policy, who
    unknown = error_of(
        api.query(POLICY, {"type": "escalation", "agent": gid("Agent", 999999)}, as_="rep_a2")
    )
    assert unknown[:2] == ("not_found", "agentId")
    for who, variables in (
        ("rep_a2", {"type": "escalation", "agent": a1}),
        ("exec_s", {"type": "escalation", "agent": a1}),
        ("rep_a1", {"type": "email", "agent": a1}),  # no email policy yet
        ("rep_a2", {"type": "escalation", "agent": agent(api, "rep_a2")}),
    ):
        assert error_of(api.query(POLICY, variables, as_=who)) == unknown, (who, variables)
    required = error_of(api.query(POLICY, {"type": "escalation"}, as_="exec_n"))
    assert required[:2] == ("required", "agentId")


def test_policy_history(api, data) -> None:
    a1 = agent(api, "rep_a1")
    first = api.query(
        POLICY_HISTORY, {"type": "escalation", "agent": a1, "first": 2}, as_="manager_a"
    )["data"]["policyHistory"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
    frozen, moved = (edge["node"] for edge in first["edges"])
    assert (frozen["version"], frozen["changedBy"], frozen["user"]) == (
        3,
        "USER",
        {"name": "manager_a"},
    )
    assert "hold while we review" in frozen["reason"] and frozen["evidence"] == {}
    assert (moved["version"], moved["changedBy"], moved["user"]) == (2, "SYSTEM", None)
    evidence = moved["evidence"]
    assert (evidence["rule"], evidence["margin"], evidence["escalation"]) == ("dead_band", 0.05, [])
    assert evidence["autonomy"][0]["direction"] == "raise"
    assert evidence["autonomy"][0]["eValue"] >= 100
    assert frozen["previousAutonomousAbove"] == moved["autonomousAbove"]
    rest = api.query(
        POLICY_HISTORY,
        {"type": "escalation", "agent": a1, "first": 2, "after": first["pageInfo"]["endCursor"]},
        as_="manager_a",
    )["data"]["policyHistory"]
    (initial,) = (edge["node"] for edge in rest["edges"])
    assert initial["version"] == 1 and initial["previousEscalateBelow"] is None
    assert (
        (initial["escalateBelow"], initial["autonomousAbove"])
        == (moved["previousEscalateBelow"], moved["previousAutonomousAbove"])
        == (0.35, 0.75)
    )
    assert not rest["pageInfo"]["hasNextPage"]
    denied = api.query(POLICY_HISTORY, {"type": "escalation", "agent": a1}, as_="rep_a2")
    assert error_of(denied)[:2] == ("not_found", "agentId")
    too_many = api.query(
        POLICY_HISTORY, {"type": "escalation", "agent": a1, "first": 101}, as_="rep_a1"
    )
    assert error_of(too_many)[:2] == ("invalid", "first")


async def _stored_map_n(url: str, agent_id: int) -> float:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            row = await session.scalar(
                select(CalibrationVerdict).where(CalibrationVerdict.agent_id == agent_id)
            )
            return float(row.recalibration["n"]) if row is not None else math.nan
    finally:
        await engine.dispose()


def test_agent_map_is_the_stored_one_not_a_refit(api, data, database_url: str) -> None:
    """Over a range that holds only part of the agent's outcomes, one agent still reports the
    map its actions are calibrated with (fitted on all 300 matured outcomes)."""
    a1 = api.world.agents["rep_a1"]
    stored = asyncio.run(_stored_map_n(database_url, a1.id))
    part = calibration(
        api,
        "rep_a1",
        agent=agent(api, "rep_a1"),
        **{"from": str(A1_DAYS[0]), "to": str(A1_DAYS[1])},
    )
    c = part["data"]["calibration"]
    assert c["sampleSize"] == 120 and c["recalibration"]["sampleSize"] == stored == 300
