"""The learning loop replayed by seed-demo: the planted miscalibration is found and the policies
move, dated inside the simulated history; calibrated types stay; the planted reply-rate drop and
confidence drift raise alerts, the steady teams none; windows due are closed by the worker's own
code; coaching mined; nothing of the history is published; same ``now``, same data.

Most checks read the full-size demo seeded once for the session (``full_seed``): at smaller
scales no agent has enough matured meetings or escalations for a verdict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.alerts.models import Alert, AlertRule
from backend.calibration.models import CalibrationMonitorState, CalibrationVerdict
from backend.coaching.models import CoachingInsight
from backend.database import create_engine, create_sessionmaker
from backend.demo import SeedReport, seed_demo
from backend.demo.loop import close_due_windows, replay_moments
from backend.demo.planted import (
    CONFIDENCE_DRIFT_REP,
    CONFIDENCE_DRIFT_TEAM,
    REPLY_DROP_TEAM,
    confidence_drift,
    reply_drop,
)
from backend.demo.simulation import HISTORY_DAYS
from backend.migrations import upgrade_async
from backend.orgs.models import Organization, Team, User
from backend.outcomes.models import Outcome
from backend.policy.models import AgentPolicy, PolicyChange
from backend.policy.service import policy_defaults
from backend.unit_of_work import bind_events
from tests.backend.demo.seeding import NOW, fingerprint, seed, sqlite_url

SINCE = NOW - dt.timedelta(days=HISTORY_DAYS)
CALIBRATED_TYPES = ("email", "follow_up", "stage_progression")


@pytest.fixture
async def full(full_seed: tuple[str, SeedReport]) -> AsyncIterator[AsyncSession]:
    engine = create_engine(full_seed[0])
    try:
        async with create_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def demo_id(session: AsyncSession) -> int:
    found = await session.scalar(select(Organization.id).where(Organization.slug == "demo"))
    assert found is not None
    return found


async def drifting_agent(session: AsyncSession) -> int:
    """The agent whose e-mail confidence drifts (``backend.demo.planted``)."""
    found = await session.scalar(
        select(Agent.id)
        .join(User, User.id == Agent.owner_id)
        .where(User.email == f"rep{CONFIDENCE_DRIFT_REP}@demo.example")
    )
    assert found is not None
    return found


async def verdicts(session: AsyncSession, action_type: str) -> list[CalibrationVerdict]:
    return list(
        await session.scalars(
            select(CalibrationVerdict).where(
                CalibrationVerdict.organization_id == await demo_id(session),
                CalibrationVerdict.scope == "agent",
                CalibrationVerdict.action_type == action_type,
            )
        )
    )


async def moves(session: AsyncSession, agent_id: int, action_type: str) -> list[PolicyChange]:
    """The automatic changes of one policy after its initial version, oldest first."""
    return list(
        await session.scalars(
            select(PolicyChange)
            .where(
                PolicyChange.agent_id == agent_id,
                PolicyChange.action_type == action_type,
                PolicyChange.version > 1,
            )
            .order_by(PolicyChange.version)
        )
    )


async def policy(session: AsyncSession, agent_id: int, action_type: str) -> AgentPolicy:
    found = await session.scalar(
        select(AgentPolicy).where(
            AgentPolicy.agent_id == agent_id, AgentPolicy.action_type == action_type
        )
    )
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("action_type", "planted", "agents_at_least"),
    [("meeting", "underconfident", 12), ("escalation", "overconfident", 4)],
)
async def test_planted_miscalibration_is_found_and_its_policies_move_with_reasons(
    full: AsyncSession, action_type: str, planted: str, agents_at_least: int
) -> None:
    found = [v for v in await verdicts(full, action_type) if v.verdict == planted]
    # Every agent with enough matured outcomes is found out (escalations are rare: the others
    # have fewer than 100 matured ones and stay insufficient_data).
    assert len(found) >= agents_at_least
    assert all(
        v.verdict == "insufficient_data"
        for v in await verdicts(full, action_type)
        if v not in found
    )
    defaults = policy_defaults(action_type, None).thresholds
    way = "raise" if planted == "overconfident" else "lower"
    moved = 0
    for verdict in found:
        assert verdict.recalibration["method"] != "identity"
        assert verdict.agent_id is not None
        changes = await moves(full, verdict.agent_id, action_type)
        for change in changes:  # each threshold moved on its own evidence, the planted way
            assert change.changed_by == "system" and change.evidence["rule"] == "dead_band"
            steps = change.evidence["escalation"] + change.evidence["autonomy"]
            assert steps and {m["direction"] for m in steps} == {way}
            assert all(m["eValue"] >= 100 for m in steps)
            assert "e-value" in change.reason and "threshold" in change.reason
        now = await policy(full, verdict.agent_id, action_type)
        assert now.version == 1 + len(changes)
        moved += bool(changes)
        if planted == "overconfident":  # acts on its own less: a higher autonomy threshold
            assert now.autonomous_above >= defaults.autonomous_above
            assert now.escalate_below >= defaults.escalate_below
        else:  # attendance beats its confidence: it may act alone on more meetings
            assert now.autonomous_above <= defaults.autonomous_above
            assert now.escalate_below <= defaults.escalate_below
    # The evidence near a threshold builds at its own pace: by now all but at most one of the
    # agents found out have moved.
    assert moved >= len(found) - 1


async def test_calibrated_types_keep_their_policies_unless_evidence_moved_them(
    full: AsyncSession,
) -> None:
    drifting = await drifting_agent(full)
    for action_type in CALIBRATED_TYPES:
        judged = await verdicts(full, action_type)
        assert len(judged) == 12
        planted = {v for v in judged if (v.agent_id, action_type) == (drifting, "email")}
        assert {v.verdict for v in judged if v not in planted} == {"calibrated"}
        for verdict in judged:
            if verdict in planted:
                continue
            assert verdict.agent_id is not None
            changes = await moves(full, verdict.agent_id, action_type)
            # Calibrated: the success rate near each threshold stays in its dead band.
            assert changes == []
            current = await policy(full, verdict.agent_id, action_type)
            defaults = policy_defaults(action_type, None).thresholds
            assert (current.version, current.autonomous_above) == (1, defaults.autonomous_above)


async def test_the_planted_confidence_drift_is_found(
    full: AsyncSession,
) -> None:
    """The drifting agent states more confidence in its e-mails than its replies bear out:
    judged overconfident by the replayed loop."""
    agent = await drifting_agent(full)
    [verdict] = [v for v in await verdicts(full, "email") if v.agent_id == agent]
    assert verdict.verdict == "overconfident"
    assert verdict.evidence["observedExpected"] < 0.9
    # Its policy moves only on what happens near its thresholds (0.02 and 0.05): there the
    # replies stayed within the dead bands, so it keeps acting on its own (and never the other
    # way: no threshold lowered).
    changes = await moves(full, agent, "email")
    steps = [m for c in changes for m in c.evidence["escalation"] + c.evidence["autonomy"]]
    assert all(m["direction"] == "raise" for m in steps)
    current = await policy(full, agent, "email")
    assert current.autonomous_above >= policy_defaults("email", None).thresholds.autonomous_above
    # Its change detector finds the drift as a change (and no other agent's type changes): its
    # e-mail map is refitted from a day after the drift began, leaning on its map before.
    drift = confidence_drift("demo", CONFIDENCE_DRIFT_REP, now_s=int(NOW.timestamp()))
    assert drift is not None
    changed = list(
        await full.scalars(
            select(CalibrationMonitorState).where(CalibrationMonitorState.changes > 0)
        )
    )
    assert [(row.agent_id, row.action_type) for row in changed] == [(agent, "email")]
    [row] = changed
    assert row.changed_on is not None and row.change_found_on is not None
    assert dt.datetime.fromtimestamp(drift.start_s, dt.UTC).date() <= row.changed_on
    assert row.changed_on < row.change_found_on <= NOW.date()
    assert verdict.recalibration_basis["pooledToward"] == "past"


async def test_the_loop_is_dated_on_the_simulated_days_not_by_the_clock(full: AsyncSession) -> None:
    moments = set(replay_moments(since=SINCE, now=NOW))
    assert max(moments) == NOW and min(moments) > SINCE
    changed = list(await full.scalars(select(PolicyChange).where(PolicyChange.version > 1)))
    assert changed
    assert {c.created_at.replace(tzinfo=dt.UTC) for c in changed} <= moments
    stamps = [
        *(await full.scalars(select(CalibrationVerdict.assessed_at))),
        *(await full.scalars(select(AgentPolicy.updated_at))),
    ]
    assert {s.replace(tzinfo=dt.UTC) for s in stamps} <= moments | {SINCE}
    # Changes happened on more than one day: the history shows the loop at work over time.
    assert len({c.created_at for c in changed}) >= 3


async def test_the_summary_says_what_the_loop_did(
    full: AsyncSession, full_seed: tuple[str, SeedReport]
) -> None:
    loop = full_seed[1].loop
    assert loop.moments == len(replay_moments(since=SINCE, now=NOW))
    assert loop.reassessments == loop.moments * (12 + 2) * 5  # demo's and acme's agents
    moved = await full.scalar(
        select(func.count()).select_from(PolicyChange).where(PolicyChange.version > 1)
    )
    assert loop.policy_changes == moved and moved > 12
    fitted = [
        v
        for v in await full.scalars(
            select(CalibrationVerdict).where(CalibrationVerdict.scope == "agent")
        )
        if v.recalibration.get("method", "identity") != "identity"
        and v.verdict != "insufficient_data"
    ]
    assert loop.recalibration_maps == len(fitted) > 12
    found = await full.scalar(select(func.sum(CalibrationMonitorState.changes)))
    assert loop.changes_found == found
    insights = await full.scalar(select(func.count()).select_from(CoachingInsight))
    assert loop.coaching_insights == insights and insights > 0
    assert full_seed[1].counts["policy_changes"] == 14 * 5 + moved
    assert full_seed[1].counts["coaching_insights"] == insights
    assert (
        f"loop: {loop.reassessments:,} reassessments at {loop.moments} moments,"
        f" {moved:,} policy changes, {len(fitted):,} recalibration maps,"
        f" {loop.changes_found:,} change{'' if loop.changes_found == 1 else 's'} found,"
        " 0 windows closed,"
        f" {insights:,} coaching insights, {loop.alerts.summary()}"
    ) in full_seed[1].summary()


async def test_alerts_fired_and_people_answered_them_on_simulated_moments(
    full: AsyncSession, full_seed: tuple[str, SeedReport]
) -> None:
    alerts = list(await full.scalars(select(Alert).order_by(Alert.id)))
    report = full_seed[1].loop.alerts
    states = [a.state for a in alerts]
    assert (report.firing, report.acknowledged, report.resolved) == (
        states.count("firing"),
        states.count("acknowledged"),
        states.count("resolved"),
    )
    assert report.firing and report.acknowledged and report.resolved
    moments = set(replay_moments(since=SINCE, now=NOW))
    day = dt.timedelta(days=1)
    morning = dt.timedelta(hours=9, minutes=30)
    answered_at = {m + morning for m in moments} | {m + day + morning for m in moments}

    def utc(stamp: dt.datetime | None) -> dt.datetime:
        assert stamp is not None
        return stamp.replace(tzinfo=dt.UTC)

    for alert in alerts:
        assert utc(alert.fired_at) in moments | {m + day for m in moments}
        if alert.acknowledged_at is not None:
            assert utc(alert.acknowledged_at) in answered_at
            assert alert.acknowledged_by_id is not None
        if alert.state == "resolved":
            resolved = utc(alert.resolved_at)
            assert resolved <= NOW and resolved > utc(alert.fired_at)
            if alert.resolved_by_id is None:  # resolved itself: the worker, past the hold
                assert resolved in {m + day for m in moments} | moments
            else:
                assert resolved in answered_at
        else:
            assert alert.resolved_at is None
    # What fired at now is still firing: nobody has seen it yet; nothing older is.
    assert {utc(a.fired_at) for a in alerts if a.state == "firing"} == {NOW}
    # Who answered: the manager of the alert's team, the executive for the organisation's.
    roles = dict((await full.execute(select(User.id, User.role))).all())
    answers = [(a, a.acknowledged_by_id or a.resolved_by_id) for a in alerts]
    people = [(a, who) for a, who in answers if who is not None]
    assert {roles[who] for a, who in people if a.team_id is None} <= {"executive"}
    assert {roles[who] for a, who in people if a.team_id is not None} == {"manager"}
    assert any(a.team_id is None for a, _ in people)
    # Policy notices were resolved by their readers; nothing else cleared: what the rules found
    # (the planted changes) lasts to ``now``.
    resolved = [a for a in alerts if a.state == "resolved"]
    assert resolved and all(a.resolved_by_id is not None for a in resolved)
    assert {a.kind for a in resolved} == {"policy"}


async def test_the_planted_changes_raise_alerts_and_the_steady_teams_none(
    full: AsyncSession,
) -> None:
    """Mid-Market's reply-rate drop and its agent's confidence drift fire their team's rules,
    after they began; the steady teams' rules fire nothing; the planted escalations fire the
    executive's."""
    demo = await demo_id(full)
    teams = dict(
        (await full.execute(select(Team.id, Team.name).where(Team.organization_id == demo))).all()
    )
    rules = {
        r.id: r
        for r in await full.scalars(select(AlertRule).where(AlertRule.organization_id == demo))
    }
    alerts = [a for a in await full.scalars(select(Alert).order_by(Alert.id)) if a.rule_id in rules]
    fired = {rules[a.rule_id].name for a in alerts}
    assert "Escalations miscalibrated" in fired and "Escalation policy moved" in fired
    now_s = int(NOW.timestamp())

    def utc(stamp: dt.datetime) -> dt.datetime:
        return stamp.replace(tzinfo=dt.UTC)

    # (a) every team reply-rate alert is the planted team's, raised after the drop began
    drop = reply_drop("demo", REPLY_DROP_TEAM, now_s=now_s)
    assert drop is not None
    replies = [a for a in alerts if a.metric == "reply_rate" and a.team_id is not None]
    assert replies and {teams[a.team_id] for a in replies} == {REPLY_DROP_TEAM}
    assert all(a.kind == "drift" and a.evidence["direction"] == "drop" for a in replies)
    assert all(utc(a.fired_at).timestamp() > drop.start_s for a in replies)
    # (b) the drifting agent's e-mail calibration is found, after the drift began
    drift = confidence_drift("demo", CONFIDENCE_DRIFT_REP, now_s=now_s)
    assert drift is not None
    agent = await drifting_agent(full)
    calibration = [
        a
        for a in alerts
        if a.kind == "calibration" and a.action_type == "email" and a.agent_id == agent
    ]
    assert calibration and {teams[a.team_id] for a in calibration} == {CONFIDENCE_DRIFT_TEAM}
    assert all(utc(a.fired_at).timestamp() > drift.start_s for a in calibration)
    assert all(a.evidence["verdict"] == "overconfident" for a in calibration)
    # no other e-mail calibration alert: the other agents' e-mails stay calibrated
    assert [a for a in alerts if a.action_type == "email"] == calibration
    # (c) people acknowledged some, one at least is still open
    planted = replies + calibration
    assert {"acknowledged", "firing"} <= {a.state for a in alerts}
    assert {a.state for a in planted} <= {"acknowledged", "firing"}
    # (d) nothing fired for the steady teams' rules
    steady = {
        rule_id
        for rule_id, rule in rules.items()
        if rule.scope == "team" and teams[rule.team_id] != REPLY_DROP_TEAM
    }
    assert steady and not [a for a in alerts if a.rule_id in steady]
    # The planted escalations: each overconfident agent's, and nothing else of them.
    overconfident = {
        v.agent_id for v in await verdicts(full, "escalation") if v.verdict == "overconfident"
    }
    about = {
        a.agent_id
        for a in await full.scalars(select(Alert).where(Alert.kind == "calibration"))
        if a.agent_id is not None and a.action_type == "escalation"
    }
    assert about == overconfident


async def test_no_window_is_left_open_past_its_due_time(
    full: AsyncSession, full_seed: tuple[str, SeedReport]
) -> None:
    overdue = await full.scalar(
        select(func.count())
        .select_from(Outcome)
        .where(Outcome.status == "open", Outcome.due_at <= NOW)
    )
    assert overdue == 0 and full_seed[1].loop.windows_closed == 0


async def test_windows_due_later_are_closed_by_the_worker_s_rules(
    full: AsyncSession,
) -> None:
    """What the seed's window closing does on the day after: the worker's own rules close the
    windows that are due by then (rolled back afterwards)."""
    later = NOW + dt.timedelta(days=1)

    async def overdue() -> int:
        statement = select(func.count()).select_from(Outcome)
        statement = statement.where(Outcome.status == "open", Outcome.due_at <= later)
        return (await full.scalar(statement)) or 0

    due = await overdue()
    assert due > 0
    try:
        assert await close_due_windows(full, now=later) == due
        assert await overdue() == 0
    finally:
        await full.rollback()


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def dispatch(self, events: Sequence[Any]) -> None:
        self.events.extend(events)


async def test_the_history_s_events_are_not_published(tmp_path: Any) -> None:
    url = sqlite_url(tmp_path / "quiet.db")
    await upgrade_async(url)
    engine = create_engine(url)
    recorder = Recorder()
    try:
        sessions = create_sessionmaker(engine)
        bind_events(sessions, recorder)
        report = await seed_demo(sessions, progress=False, now=NOW, scale=0.2)
    finally:
        await engine.dispose()
    assert report.loop.reassessments > 0
    assert recorder.events == []


async def test_same_now_gives_the_same_loop(
    tmp_path: Any, full_seed: tuple[str, SeedReport]
) -> None:
    again = sqlite_url(tmp_path / "again.db")
    await upgrade_async(again)
    report = await seed(again, now=NOW)
    assert report.counts == full_seed[1].counts and report.loop == full_seed[1].loop
    assert await fingerprint(again) == await fingerprint(full_seed[0])
    assert await loop_rows(again) == await loop_rows(full_seed[0])


async def loop_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the loop wrote, in a stable order."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            changes = await session.execute(
                select(
                    PolicyChange.agent_id,
                    PolicyChange.action_type,
                    PolicyChange.version,
                    PolicyChange.escalate_below,
                    PolicyChange.autonomous_above,
                    PolicyChange.reason,
                    PolicyChange.evidence,
                    PolicyChange.created_at,
                ).order_by(PolicyChange.agent_id, PolicyChange.action_type, PolicyChange.version)
            )
            verdict_rows = await session.execute(
                select(
                    CalibrationVerdict.scope_key,
                    CalibrationVerdict.action_type,
                    CalibrationVerdict.organization_id,
                    CalibrationVerdict.verdict,
                    CalibrationVerdict.recalibration,
                    CalibrationVerdict.n,
                    CalibrationVerdict.assessed_at,
                ).order_by(
                    CalibrationVerdict.organization_id,
                    CalibrationVerdict.scope_key,
                    CalibrationVerdict.action_type,
                )
            )
            insights = await session.execute(
                select(
                    CoachingInsight.team_id, CoachingInsight.statement, CoachingInsight.created_at
                ).order_by(CoachingInsight.team_id, CoachingInsight.statement)
            )
            alert_rows = await session.execute(
                select(
                    Alert.rule_id,
                    Alert.subject,
                    Alert.state,
                    Alert.message,
                    Alert.evidence,
                    Alert.fired_at,
                    Alert.acknowledged_at,
                    Alert.acknowledged_by_id,
                    Alert.resolved_at,
                    Alert.resolved_by_id,
                ).order_by(Alert.id)
            )
            return {
                "alerts": [tuple(r) for r in alert_rows],
                "changes": [tuple(r) for r in changes],
                "verdicts": [tuple(r) for r in verdict_rows],
                "insights": [tuple(r) for r in insights],
            }
    finally:
        await engine.dispose()
