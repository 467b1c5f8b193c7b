"""The learning loop replayed over the demo's history, with the product's own services.

The seeder writes ninety days of actions and outcomes in bulk; this module then does what the
running product would have done over those days: the worker closes the windows due at ``now``;
every two simulated weeks each agent's action types are re-assessed and their policies follow (the
sequence ``backend.learning.refresh_calibration`` runs after outcomes resolve), so verdicts,
recalibration maps and the policy history are the loop's own, stamped with the simulated moment,
never the clock; then coaching refreshes each team's insights at ``now``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.calibration.models import CalibrationMonitorState, CalibrationVerdict
from backend.calibration.rollup import add_predictions
from backend.coaching.service import refresh_team_insights
from backend.demo.alerts import AlertReport, alert_report, pending_events, raise_alerts_at
from backend.demo.people import OrgPeople
from backend.demo.simulation import KINDS
from backend.learning import follow_calibration
from backend.outcomes.windows import close_expired_batch

# How often the replay looks again. Live, the loop re-assesses after every resolved outcome;
# the replay re-assesses each agent's action types every two weeks of history, so a policy
# moves at most one bounded step a fortnight. That keeps seeding fast: each moment costs about
# 0.65 s on SQLite (70 scopes), a daily replay took 40 s, a weekly one 8 s.
REPLAY_EVERY = dt.timedelta(days=14)
CLOSE_BATCH = 500


@dataclass(frozen=True, slots=True)
class LoopReport:
    """What the replayed loop did."""

    moments: int  # the simulated moments it re-assessed at (the last one ``now``)
    windows_closed: int  # expired windows the worker closed at ``now``
    reassessments: int  # (agent, action type) re-assessments
    policy_changes: int  # automatic policy moves, each with its reason and evidence
    recalibration_maps: int  # agents' action types left with a fitted (non-identity) map
    changes_found: int  # agents' action types whose change detector found a change
    coaching_insights: int  # insights coaching mined at ``now``, across the teams
    alerts: AlertReport  # the alerts the rules raised over the history, by state

    def summary(self) -> str:
        """E.g. "loop: 420 reassessments at 6 moments, 31 policy changes, 53 recalibration
        maps, 1 change found, 0 windows closed, 30 coaching insights, 12 alerts: 5
        acknowledged, 4 resolved, 3 firing"."""
        return (
            f"loop: {self.reassessments:,} reassessments at {self.moments} moments,"
            f" {self.policy_changes:,} policy changes,"
            f" {self.recalibration_maps:,} recalibration maps,"
            f" {self.changes_found:,} change{'' if self.changes_found == 1 else 's'} found,"
            f" {self.windows_closed:,} windows closed,"
            f" {self.coaching_insights:,} coaching insights, {self.alerts.summary()}"
        )


def replay_moments(*, since: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """The moments the loop is replayed at, oldest first: every ``REPLAY_EVERY`` back from
    ``now`` (so the last verdicts and policies are those of ``now``), each with at least
    ``REPLAY_EVERY`` of history since ``since`` behind it."""
    moments = []
    moment = now
    while moment - since >= REPLAY_EVERY:
        moments.append(moment)
        moment -= REPLAY_EVERY
    return moments[::-1]


async def replay_learning_loop(
    session: AsyncSession,
    orgs: Sequence[OrgPeople],
    *,
    since: dt.datetime,
    now: dt.datetime,
    on_moment: Callable[[dt.datetime], None] | None = None,
) -> LoopReport:
    """Close the windows due at ``now``; re-assess every agent's action types and move their
    policies as of each moment from ``since`` to ``now``, the alert rules following
    (``backend.demo.alerts``: the daily rollups must be built); refresh coaching at ``now``.
    All in ``session``'s unit of work; ``on_moment`` hears each moment once it is done."""
    closed = await close_due_windows(session, now=now)
    moments = replay_moments(since=since, now=now)
    reassessments = changes = 0
    for moment in moments:
        raised_before = len(pending_events(session))
        for org in orgs:
            done, moved = await refresh_organization(session, org, moment=moment)
            reassessments += done
            changes += moved
        await _forget_verdicts(session)
        # The alert rules hear this moment's calibration and policy events, as the handlers
        # would after its commit, and the worker's alert job runs as of the moment.
        await raise_alerts_at(
            session,
            orgs,
            pending_events(session)[raised_before:],
            moment=moment,
            last=moment == moments[-1],
        )
        if on_moment is not None:
            on_moment(moment)
    return LoopReport(
        moments=len(moments),
        windows_closed=closed,
        reassessments=reassessments,
        policy_changes=changes,
        recalibration_maps=await _fitted_maps(session, orgs),
        changes_found=await _changes_found(session, orgs),
        coaching_insights=await refresh_coaching(session, orgs, now=now),
        alerts=await alert_report(session, orgs),
    )


async def close_due_windows(session: AsyncSession, *, now: dt.datetime) -> int:
    """The worker's job at ``now``: close every expired window by its rule and count what it
    resolves in the calibration rollup, as ``backend.learning.close_expired_windows`` does."""
    closed = 0
    while True:
        resolutions = await close_expired_batch(session, now=now, batch_size=CLOSE_BATCH)
        await add_predictions(session, resolutions.predictions)
        count = resolutions.resolved + len(resolutions.labelling)
        closed += count
        if count < CLOSE_BATCH:
            return closed


async def refresh_organization(
    session: AsyncSession, org: OrgPeople, *, moment: dt.datetime
) -> tuple[int, int]:
    """Re-assess each agent's action types as of ``moment`` (all agents of a type at once, as
    the worker does with the scopes of a batch of outcomes) and let each policy follow.
    Returns (reassessments, policy moves)."""
    agent_ids = sorted(rep.agent_id for rep in org.reps)
    moved = 0
    for kind in sorted(KINDS, key=lambda k: k.value):
        moved += await follow_calibration(
            session,
            organization_id=org.organization_id,
            agent_ids=agent_ids,
            action_type=kind.value,
            today=moment.date(),
            now=moment,
        )
    return len(agent_ids) * len(KINDS), moved


async def refresh_coaching(
    session: AsyncSession, orgs: Sequence[OrgPeople], *, now: dt.datetime
) -> int:
    """Mine each team's coaching insights at ``now`` (what the worker's coaching job does);
    how many insights were raised."""
    insights = 0
    for org in orgs:
        for team_id in org.team_ids:
            insights += await refresh_team_insights(
                session, organization_id=org.organization_id, team_id=team_id, now=now
            )
    return insights


async def _forget_verdicts(session: AsyncSession) -> None:
    """Write what this moment changed and drop the verdicts from the session: the service
    stores them with an upsert, which the session's copies do not see, and the next moment
    must read the stored ones (live, each re-assessment is a unit of work of its own)."""
    await session.flush()
    for row in [
        obj for obj in session.identity_map.values() if isinstance(obj, CalibrationVerdict)
    ]:
        session.expunge(row)


async def _changes_found(session: AsyncSession, orgs: Sequence[OrgPeople]) -> int:
    """Changes the agents' detectors found (``backend.calibration.drift``)."""
    found = await session.scalar(
        select(func.coalesce(func.sum(CalibrationMonitorState.changes), 0)).where(
            CalibrationMonitorState.organization_id.in_([org.organization_id for org in orgs])
        )
    )
    return int(found or 0)


async def _fitted_maps(session: AsyncSession, orgs: Sequence[OrgPeople]) -> int:
    """Agents' action types whose verdict carries a fitted recalibration map."""
    maps = await session.scalars(
        select(CalibrationVerdict.recalibration).where(
            CalibrationVerdict.organization_id.in_([org.organization_id for org in orgs]),
            CalibrationVerdict.scope == "agent",
            CalibrationVerdict.verdict != "insufficient_data",
        )
    )
    return sum(m.get("method", "identity") != "identity" for m in maps)
