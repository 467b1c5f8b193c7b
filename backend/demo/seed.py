"""``seed_demo``: fill an empty database with the deterministic demo organisations.

Two organisations: ``demo`` (Demo Corp: 3 teams, 3 managers, an executive, an administrator,
12 reps with one agent each and about 90 days of activity) and the small ``acme``, so that
isolation between organisations can be seen. After the bulk inserts the learning loop runs
over the history (``backend.demo.loop``). Everything happens in one transaction: a failure
leaves nothing behind, and a database that already holds an organisation is refused.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tqdm import tqdm

from backend.actions.models import AgentAction
from backend.calibration.models import CalibrationStat, CalibrationVerdict
from backend.coaching.models import CoachingInsight
from backend.demo.activity import AgentActivity, insert_activity
from backend.demo.configuration import insert_configuration
from backend.demo.feedback import feedback_rows
from backend.demo.loop import LoopReport, replay_learning_loop, replay_moments
from backend.demo.outcomes import RESOLVED
from backend.demo.people import ACME, DEMO, DemoLogin, OrgPeople, OrgPlan, insert_people
from backend.demo.rollups import calibration_rows
from backend.demo.simulation import DAY, HISTORY_DAYS
from backend.demo.writer import BulkWriter
from backend.feedback.models import Feedback
from backend.orgs.models import Organization
from backend.policy.models import PolicyChange
from backend.prompts.models import FeedbackPrompt
from backend.prompts.service import PromptPolicy, prompt_critical_action, suggest_reviews
from backend.rollups import rebuild_all
from backend.unit_of_work import transaction

SEED = 20261126
PLANS: tuple[OrgPlan, ...] = (DEMO, ACME)
MIN_ACTIONS_PER_AGENT = 20


class DatabaseNotEmptyError(Exception):
    """seed-demo only fills an empty database; the message says what it found."""


@dataclass(frozen=True, slots=True)
class SeedReport:
    organizations: tuple[str, ...]  # slugs, in the order they were created
    counts: Mapping[str, int]  # rows inserted, by table name
    logins: list[DemoLogin]
    now: dt.datetime  # the reference time the activity ends at
    seconds: float  # how long seeding took
    loop: LoopReport  # what the learning loop did over the history

    def summary(self) -> str:
        """One line for the CLI, e.g. "seeded demo, acme in 7.9 s: 34,916 actions, ..."."""
        shown = ("agent_actions", "signals", "outcomes", "feedback", "calibration_stats")
        counts = ", ".join(f"{self.counts.get(t, 0):,} {t.replace('_', ' ')}" for t in shown)
        total = sum(self.counts.values())
        return (
            f"seeded {', '.join(self.organizations)} in {self.seconds:.1f} s: {counts}"
            f" ({total:,} rows in all); {self.loop.summary()}"
        )


def start_of_today() -> dt.datetime:
    """Today at 00:00 UTC: the default ``now``, so reruns on the same day give the same data."""
    return dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def seed_demo(
    sessions: async_sessionmaker[AsyncSession],
    *,
    progress: bool = True,
    now: dt.datetime | None = None,
    scale: float = 1.0,
) -> SeedReport:
    """Seed the demo organisations into an empty database, in one transaction.

    ``now`` is when the simulated history ends (default: today at 00:00 UTC); the same ``now``
    and ``scale`` always give the same data. ``scale`` multiplies the number of actions per
    agent (1.0: 2,500-3,500 per demo agent). Raises ``DatabaseNotEmptyError`` when any
    organisation exists already, changing nothing.
    """
    if now is None:
        now = start_of_today()
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    now = now.astimezone(dt.UTC)
    started = time.perf_counter()
    since = now - dt.timedelta(days=HISTORY_DAYS)
    # Progress steps: each organisation's people, each of its agents, its configuration; then
    # each moment of the learning loop's replay.
    steps = sum(sum(team.reps for team in plan.teams) + 2 for plan in PLANS)
    steps += len(replay_moments(since=since, now=now))
    # The history's events (verdicts and policies changed, prompts asked) are not news: they
    # are held back, never published nor handed to handlers (Slack, webhooks).
    history_events: list[Any] = []
    async with transaction(sessions, hold=history_events) as session:
        await _require_empty(session)
        writer = BulkWriter(session)
        logins: list[DemoLogin] = []
        orgs: list[OrgPeople] = []
        with tqdm(
            total=steps, desc="seed-demo", unit="step", file=sys.stderr, disable=not progress
        ) as bar:
            for org_index, plan in enumerate(PLANS):
                org = await _seed_organization(
                    writer, org_index, plan, now=now, scale=scale, bar=bar
                )
                logins.extend(org.logins)
                orgs.append(org)
            await _gather_planner_statistics(session)

            def replayed(moment: dt.datetime) -> None:
                bar.set_postfix_str(f"learning loop: {moment:%Y-%m-%d}")
                bar.update()

            # The dashboards' daily rollups, summed from the rows just written in bulk, before
            # the loop: its alert rules read them (what the loop changes adds to them live).
            for statement in rebuild_all(session.get_bind().dialect.name):
                await session.execute(statement)
            loop = await replay_learning_loop(
                session, orgs, since=since, now=now, on_moment=replayed
            )
            await _count_loop_rows(writer, loop)
    return SeedReport(
        organizations=tuple(plan.slug for plan in PLANS),
        counts=MappingProxyType(dict(sorted(writer.counts.items()))),
        logins=logins,
        now=now,
        seconds=time.perf_counter() - started,
        loop=loop,
    )


async def _seed_organization(
    writer: BulkWriter,
    org_index: int,
    plan: OrgPlan,
    *,
    now: dt.datetime,
    scale: float,
    bar: tqdm[Any],
) -> OrgPeople:
    """One organisation: its people, each agent's 90 days, then its configuration."""
    now_s = int(now.timestamp())
    since = now - dt.timedelta(days=HISTORY_DAYS)
    bar.set_postfix_str(f"{plan.slug}: people")
    org = await _insert_people(writer, plan, created_at=since - dt.timedelta(days=30))
    bar.update()
    contact_emails: set[str] = set()  # unique within an organisation
    for rep in org.reps:
        bar.set_postfix_str(f"{plan.slug}: {rep.agent_name}")
        # One generator per agent: an agent's data does not depend on the others'.
        rng = np.random.default_rng([SEED, org_index, rep.number])
        low, high = plan.actions_per_agent
        n_actions = max(MIN_ACTIONS_PER_AGENT, round(int(rng.integers(low, high + 1)) * scale))
        activity = await insert_activity(
            writer,
            org,
            rep,
            rng,
            n_actions=n_actions,
            start_s=now_s - HISTORY_DAYS * DAY,
            now_s=now_s,
            taken_emails=contact_emails,
        )
        feedback = feedback_rows(
            rng, activity, organization_id=org.organization_id, slug=plan.slug, now_s=now_s
        )
        await writer.insert(Feedback, feedback)
        await writer.insert(CalibrationStat, _calibration_rows(org, activity))
        bar.update()
    bar.set_postfix_str(f"{plan.slug}: configuration")
    config_rng = np.random.default_rng([SEED, org_index, 0])
    await insert_configuration(writer, org, config_rng, since=since)
    await _ask_for_feedback(writer, org, now=now)
    bar.update()
    return org


async def _ask_for_feedback(writer: BulkWriter, org: OrgPeople, *, now: dt.datetime) -> None:
    """Today's prompts, asked by the product's own rules as of ``now``: each rep's unrated
    critical actions of the last day, then the routine ones worth a review, within the budget."""
    session = writer.session
    policy = PromptPolicy()
    asked = 0
    for rep in org.reps:
        critical = await session.scalars(
            select(AgentAction)
            .where(
                AgentAction.agent_id == rep.agent_id,
                AgentAction.is_critical.is_(True),
                AgentAction.occurred_at >= now - dt.timedelta(days=1),
                ~select(Feedback.id)
                .where(Feedback.action_id == AgentAction.id, Feedback.author_id == rep.user_id)
                .exists(),
            )
            .order_by(AgentAction.occurred_at, AgentAction.id)
        )
        for action in list(critical):
            asked += (
                await prompt_critical_action(session, action, policy=policy, now=now) is not None
            )
        asked += len(await suggest_reviews(session, rep.user_id, policy=policy, now=now))
    writer.counts[FeedbackPrompt.__tablename__] += asked


async def _gather_planner_statistics(session: AsyncSession) -> None:
    """ANALYZE after the bulk load: SQLite never gathers planner statistics by itself and,
    without them, drives some joins from the wrong table (coaching's rated actions took 7 s a
    team instead of 0.4 s). PostgreSQL runs it inside the transaction too."""
    await session.execute(text("ANALYZE"))


async def _count_loop_rows(writer: BulkWriter, loop: LoopReport) -> None:
    """Count the rows the loop's services wrote with the ones inserted in bulk."""
    verdicts = await writer.session.scalar(select(func.count()).select_from(CalibrationVerdict))
    writer.counts[CalibrationVerdict.__tablename__] += verdicts or 0
    writer.counts[PolicyChange.__tablename__] += loop.policy_changes
    writer.counts[CoachingInsight.__tablename__] += loop.coaching_insights


def _calibration_rows(org: OrgPeople, activity: AgentActivity) -> list[dict[str, Any]]:
    """The rollup of the agent's resolved calibrating outcomes, keyed by the action's day."""
    resolved = activity.outcomes.status == RESOLVED
    return calibration_rows(
        organization_id=org.organization_id,
        agent_id=activity.rep.agent_id,
        kind=activity.actions.kind[resolved],
        confidence=activity.actions.confidence[resolved],
        value=activity.outcomes.value[resolved],
        acted_s=activity.actions.occurred_s[resolved],
    )


async def _insert_people(
    writer: BulkWriter, plan: OrgPlan, *, created_at: dt.datetime
) -> OrgPeople:
    try:
        return await insert_people(writer, plan, created_at=created_at)
    except IntegrityError as exc:  # another seed-demo run got there first
        raise DatabaseNotEmptyError(
            f"organisation {plan.slug!r} was created by another seed-demo run at the same time;"
            " seed-demo only fills an empty database"
        ) from exc


async def _require_empty(session: AsyncSession) -> None:
    slugs = list(await session.scalars(select(Organization.slug).order_by(Organization.id)))
    if not slugs:
        return
    actions = await session.scalar(select(func.count()).select_from(AgentAction)) or 0
    listed = ", ".join(slugs[:5]) + (", ..." if len(slugs) > 5 else "")
    noun = "organisation" if len(slugs) == 1 else "organisations"
    raise DatabaseNotEmptyError(
        f"the database already holds {len(slugs)} {noun} ({listed}) and {actions} actions;"
        " seed-demo only fills an empty database"
    )
