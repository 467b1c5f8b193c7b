"""seed-demo: the demo organisations, their realistic and deliberately miscalibrated activity,
rollups that match the outcomes, determinism, refusal of a non-empty database, both databases.

Most checks read one small seeded SQLite database (``scale=SMALL``); one reads the full size
(seeded once for the session, ``full_seed``), one seeds a dedicated fresh PostgreSQL database.
What the learning loop did over the history: ``test_loop.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.calibration import STAT_FIELDS, contribution
from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.alerts.models import AlertRule
from backend.baselines.models import HumanBaseline
from backend.calibration.models import CalibrationStat
from backend.crm.models import Contact, Conversation, Deal, Message
from backend.database import create_engine, create_sessionmaker
from backend.demo import DatabaseNotEmptyError, SeedReport, seed_demo
from backend.demo import seed as seed_module
from backend.demo.seed import start_of_today
from backend.feedback.models import Feedback
from backend.migrations import upgrade, upgrade_async
from backend.orgs.models import Organization, Team, TeamManager, User
from backend.outcomes.models import Outcome, OutcomeLabel
from backend.outcomes.rules import OutcomeRules
from backend.policy.models import AgentPolicy, PolicyChange
from backend.policy.service import policy_defaults
from backend.prompts.models import FeedbackPrompt
from backend.prompts.service import PromptPolicy
from backend.reports.models import ReportSubscription
from backend.signals.engagement import machine_rule
from backend.signals.models import EmailEngagement, Signal
from tests.backend.demo.seeding import NOW, fingerprint, rows, seed, sqlite_url
from tests.conftest import fresh_postgres

# One worker runs this module's tests: the small demo (`small_url`) is seeded once, not once
# per worker.
pytestmark = pytest.mark.xdist_group("demo-seed")

SMALL = 0.12  # ~300-420 actions per demo agent: fast, yet enough for the rates below
TINY = 0.02
CALIBRATING = {
    t: OutcomeRules().calibrating_plan(t).outcome_type
    for t in ("email", "follow_up", "meeting", "escalation", "stage_progression")
}


@pytest.fixture(scope="module")
def small_url(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, SeedReport]:
    url = sqlite_url(tmp_path_factory.mktemp("seed") / "small.db")
    upgrade(url)
    report = asyncio.run(seed(url, now=NOW, scale=SMALL))
    return url, report


@pytest.fixture
async def small(small_url: tuple[str, SeedReport]) -> AsyncIterator[AsyncSession]:
    engine = create_engine(small_url[0])
    try:
        async with create_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def org_id(session: AsyncSession, slug: str) -> int:
    return (await session.scalar(select(Organization.id).where(Organization.slug == slug))) or -1


def calibrating_outcomes() -> Any:
    """Outcome joined to its action, restricted to the outcome the confidence is about."""
    conditions = [
        and_(Outcome.action_type == t, Outcome.outcome_type == o) for t, o in CALIBRATING.items()
    ]
    return (
        select(Outcome, AgentAction)
        .join(AgentAction, AgentAction.id == Outcome.action_id)
        .where(or_(*conditions))
    )


# People ------------------------------------------------------------------------------------


async def test_the_predictable_logins_exist_with_their_roles(
    small_url: tuple[str, SeedReport], small: AsyncSession
) -> None:
    report = small_url[1]
    logins = {login.email: login for login in report.logins}
    expected = {
        "exec@demo.example": ("executive", None),
        "admin@demo.example": ("admin", None),
        "manager1@demo.example": ("manager", "Enterprise"),
        "manager2@demo.example": ("manager", "Mid-Market"),
        "manager3@demo.example": ("manager", "SMB"),
        **{
            f"rep{n}@demo.example": ("rep", ("Enterprise", "Mid-Market", "SMB")[(n - 1) // 4])
            for n in range(1, 13)
        },
        "exec@acme.example": ("executive", None),
        "manager1@acme.example": ("manager", "Sales"),
        "rep1@acme.example": ("rep", "Sales"),
        "rep2@acme.example": ("rep", "Sales"),
    }
    assert {e: (v.role, v.team_name) for e, v in logins.items()} == expected
    assert {v.organization_slug for e, v in logins.items() if e.endswith("@acme.example")} == {
        "acme"
    }
    stored = {u.email: u for u in await small.scalars(select(User))}
    assert {e: stored[e].role for e in expected} == {e: r for e, (r, _) in expected.items()}
    assert stored["rep1@demo.example"].slack_user_id == "UREP01"
    assert stored["rep12@demo.example"].slack_user_id == "UREP12"
    assert all(login.name == stored[login.email].name for login in report.logins)


async def test_demo_has_three_teams_twelve_reps_each_with_one_agent_in_their_team(
    small: AsyncSession,
) -> None:
    demo = await org_id(small, "demo")
    teams = {
        t.id: t.name for t in await small.scalars(select(Team).where(Team.organization_id == demo))
    }
    assert sorted(teams.values()) == ["Enterprise", "Mid-Market", "SMB"]
    reps = list(
        await small.scalars(select(User).where(User.organization_id == demo, User.role == "rep"))
    )
    assert len(reps) == 12 and all(r.team_id in teams for r in reps)
    assert sorted(sum(1 for r in reps if r.team_id == t) for t in teams) == [4, 4, 4]
    agents = list(await small.scalars(select(Agent).where(Agent.organization_id == demo)))
    assert len(agents) == 12
    by_owner = {a.owner_id: a for a in agents}
    assert all(by_owner[r.id].team_id == r.team_id for r in reps)
    managed = await rows(
        small,
        select(User.email, TeamManager.team_id)
        .join(TeamManager, TeamManager.user_id == User.id)
        .where(User.organization_id == demo),
    )
    assert {email: teams[t] for email, t in managed} == {
        "manager1@demo.example": "Enterprise",
        "manager2@demo.example": "Mid-Market",
        "manager3@demo.example": "SMB",
    }


# Activity ----------------------------------------------------------------------------------


async def test_counts_are_in_the_expected_ranges(small: AsyncSession) -> None:
    demo, acme = await org_id(small, "demo"), await org_id(small, "acme")
    per_agent = dict(
        await rows(
            small,
            select(AgentAction.agent_id, func.count())
            .where(AgentAction.organization_id == demo)
            .group_by(AgentAction.agent_id),
        )
    )
    assert len(per_agent) == 12
    assert all(2500 * SMALL - 1 <= n <= 3500 * SMALL + 1 for n in per_agent.values())
    acme_actions = await small.scalar(
        select(func.count()).select_from(AgentAction).where(AgentAction.organization_id == acme)
    )
    assert acme_actions and acme_actions >= 2 * 20
    by_type = dict(
        await rows(
            small,
            select(AgentAction.action_type, func.count())
            .where(AgentAction.organization_id == demo)
            .group_by(AgentAction.action_type),
        )
    )
    total = sum(by_type.values())
    shares = {t: n / total for t, n in by_type.items()}
    assert shares.keys() == {"email", "follow_up", "meeting", "stage_progression", "escalation"}
    for action_type, share in (
        ("email", 0.60),
        ("follow_up", 0.15),
        ("meeting", 0.12),
        ("stage_progression", 0.07),
        ("escalation", 0.06),
    ):
        assert abs(shares[action_type] - share) < 0.03, action_type
    # One calibrating outcome per action; e-mails also have their delivery outcome.
    calibrating = await small.scalar(
        select(func.count()).select_from(calibrating_outcomes().subquery())
    )
    assert calibrating == total + acme_actions
    per_table = {
        model.__tablename__: await small.scalar(select(func.count()).select_from(model))
        for model in (Contact, Deal, Conversation, Message, Signal, Feedback, CalibrationStat)
    }
    assert all(n and n > 0 for n in per_table.values()), per_table
    assert per_table["messages"] > by_type["email"] + by_type["follow_up"]  # replies too


async def test_actions_carry_costs_critical_flags_features_and_business_hours(
    small: AsyncSession,
) -> None:
    actions = list(await small.scalars(select(AgentAction)))
    assert all(
        (a.action_type in ("escalation", "stage_progression")) == a.is_critical for a in actions
    )
    assert all(0.002 <= float(a.cost_amount) <= 0.05 and a.cost_tokens > 0 for a in actions)
    assert all(0 <= a.confidence <= 1 for a in actions)
    emails = [a for a in actions if a.action_type == "email"]
    assert all(
        {"hour_bucket", "weekday", "length_bucket", "has_question", "persona"} <= a.details.keys()
        for a in emails
    )
    assert all(a.message_id is not None for a in emails)
    weekend = sum(a.occurred_at.weekday() >= 5 for a in actions) / len(actions)
    assert 0.005 < weekend < 0.06
    office = sum(8 <= a.occurred_at.hour < 18 for a in actions) / len(actions)
    assert office > 0.8
    assert max(a.occurred_at for a in actions) < NOW
    assert min(a.occurred_at for a in actions) >= NOW - dt.timedelta(days=90)
    keys = [(a.agent_id, a.idempotency_key) for a in actions]
    assert len(set(keys)) == len(keys)


async def test_email_reply_rate_is_between_8_and_15_percent_with_patterns_to_coach(
    small: AsyncSession,
) -> None:
    demo = await org_id(small, "demo")
    pairs = [
        (o.value, a.details)
        for o, a in await rows(
            small,
            calibrating_outcomes().where(
                Outcome.organization_id == demo,
                Outcome.action_type == "email",
                Outcome.status == "resolved",
            ),
        )
    ]
    rate = sum(v for v, _ in pairs) / len(pairs)
    assert 0.08 <= rate <= 0.15

    def rate_where(key: str, value: Any) -> float:
        chosen = [v for v, d in pairs if d[key] == value]
        return sum(chosen) / len(chosen)

    assert rate_where("has_question", True) > rate_where("has_question", False)
    assert rate_where("persona", "champion") > rate_where("persona", "economic_buyer")


async def test_confidence_is_miscalibrated_by_design(small: AsyncSession) -> None:
    """Escalations over-confident, meetings under-confident, e-mail and the rest calibrated:
    observed / expected over actions whose windows have all closed (no censoring)."""
    complete = NOW - dt.timedelta(days=31)
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for outcome, action in await rows(
        small,
        calibrating_outcomes().where(
            Outcome.status == "resolved", AgentAction.occurred_at < complete
        ),
    ):
        sums[action.action_type][0] += outcome.value
        sums[action.action_type][1] += action.confidence
    ratio = {t: y / p for t, (y, p) in sums.items()}
    assert ratio["escalation"] < 0.7
    assert ratio["meeting"] > 1.25
    assert 0.88 < ratio["email"] < 1.12
    assert 0.85 < ratio["follow_up"] < 1.15
    assert 0.85 < ratio["stage_progression"] < 1.15


async def test_outcome_states_follow_their_windows(small: AsyncSession) -> None:
    outcomes = list(await small.scalars(select(Outcome)))
    by_status = defaultdict(int)
    for o in outcomes:
        by_status[(o.status, o.detection)] += 1
        assert o.opened_at <= o.due_at
        if o.status == "resolved":
            assert o.value is not None and o.resolved_at is not None and o.level is not None
            assert o.resolved_at < NOW and o.value == o.level / (4 if o.scale != "binary" else 1)
        else:
            assert o.value is None and o.resolved_at is None
        if o.status == "open":
            assert o.due_at > NOW - dt.timedelta(days=31)  # only recent windows are still open
        if o.status == "needs_label":
            assert o.detection == "pending_label" and o.label_reason
        if o.detection == "human":
            assert o.status == "resolved" and o.resolved_by_id is not None
    total = len(outcomes)
    assert by_status[("resolved", "automatic")] / total > 0.75
    assert 0.01 < by_status[("resolved", "human")] / total < 0.15
    assert 0.002 < by_status[("needs_label", "pending_label")] / total < 0.05
    assert 0.03 < by_status[("open", "automatic")] / total < 0.2
    labels = await small.scalar(select(func.count()).select_from(OutcomeLabel))
    assert labels == by_status[("resolved", "human")]


async def test_signals_are_linked_and_resolve_outcomes_of_their_own_agent(
    small: AsyncSession,
) -> None:
    kinds = dict(await rows(small, select(Signal.kind, func.count()).group_by(Signal.kind)))
    assert {
        "email.opened",
        "email.replied",
        "email.clicked",
        "email.bounced",
        "meeting.scheduled",
        "meeting.attended",
        "meeting.no_show",
        "deal.stage_changed",
        "deal.won",
    } <= kinds.keys()
    sources = set(await small.scalars(select(Signal.source).distinct()))
    assert sources == {"email_provider", "crm", "agent"}
    linked = await rows(
        small,
        select(
            Outcome.agent_id,
            Signal.agent_id,
            Signal.kind,
            Outcome.outcome_type,
            Signal.occurred_at,
            Outcome.resolved_at,
        )
        .join(Signal, Signal.id == Outcome.signal_id)
        .where(Outcome.status == "resolved"),
    )
    assert linked
    assert all(oa == sa for oa, sa, *_ in linked)
    assert all(at <= resolved for *_, at, resolved in linked)
    assert {(k, t) for _, _, k, t, _, _ in linked} <= {
        ("email.replied", "email_reply"),
        ("email.bounced", "email_reply"),
        ("email.replied", "email_delivery"),
        ("email.bounced", "email_delivery"),
        ("meeting.attended", "meeting_attendance"),
        ("meeting.no_show", "meeting_attendance"),
        ("deal.stage_changed", "deal_progression"),
        ("deal.lost", "deal_progression"),
    }
    rules = OutcomeRules()
    for payload, kind in await rows(
        small, select(Signal.payload, Signal.kind).where(Signal.kind == "deal.stage_changed")
    ):
        assert rules.effects(kind, payload)[0].level in ("minimal", "some", "significant", "major")


# Calibration rollup ------------------------------------------------------------------------


async def test_opens_and_clicks_carry_user_agents_and_about_half_the_opens_are_software(
    small: AsyncSession,
) -> None:
    """Apple's privacy relay preloads the mail of about a quarter of the recipients (40-50 % of
    the opens), gateways open and click some; each signal's flag is the live rules' verdict
    and the trends' rollup counts them all, human opens below all opens."""
    engagement = await rows(
        small,
        select(
            Signal.kind, Signal.payload, Signal.machine, Signal.occurred_at, AgentAction.occurred_at
        )
        .join(AgentAction, AgentAction.message_id == Signal.message_id)
        .where(Signal.kind.in_(["email.opened", "email.clicked"])),
    )
    opens = [r for r in engagement if r[0] == "email.opened"]
    clicks = [r for r in engagement if r[0] == "email.clicked"]
    assert len(opens) > 1000 and len(clicks) > 100
    rules: dict[str | None, int] = defaultdict(int)
    for kind, payload, machine, at, sent in engagement:
        rule = machine_rule(
            kind,
            user_agent=payload["user_agent"],
            seconds_after_delivery=(at - sent).total_seconds(),
        )
        assert machine == (rule is not None)
        rules[rule] += 1
    assert {"apple_mail_privacy_protection", "security_scanner", None} <= rules.keys()
    machine_opens = sum(r[2] for r in opens) / len(opens)
    assert 0.4 < machine_opens < 0.6
    assert 0.05 < sum(r[2] for r in clicks) / len(clicks) < 0.6
    totals = (
        await small.execute(
            select(func.sum(EmailEngagement.opens), func.sum(EmailEngagement.machine_opens))
        )
    ).one()
    assert totals[0] == len(opens) and 0 < totals[1] < totals[0]


async def test_rollup_sums_equal_the_sums_recomputed_from_resolved_outcomes(
    small: AsyncSession,
) -> None:
    expected: dict[tuple[Any, ...], np.ndarray] = defaultdict(lambda: np.zeros(len(STAT_FIELDS)))
    per_type: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for outcome, action in await rows(
        small, calibrating_outcomes().where(Outcome.status == "resolved")
    ):
        c = contribution(action.confidence, outcome.value)
        key = (action.agent_id, action.action_type, action.occurred_at.date(), c.bin)
        expected[key] += [getattr(c, name) for name in STAT_FIELDS]
        per_type[action.action_type][0] += 1
        per_type[action.action_type][1] += outcome.value
    stats = list(await small.scalars(select(CalibrationStat)))
    actual = {(s.agent_id, s.action_type, s.day, s.bin): s for s in stats}
    assert actual.keys() == expected.keys()
    for key, sums in expected.items():
        row = actual[key]
        assert [getattr(row, name) for name in STAT_FIELDS] == pytest.approx(list(sums), abs=1e-9)
    totals = await rows(
        small,
        select(
            CalibrationStat.action_type,
            func.sum(CalibrationStat.count),
            func.sum(CalibrationStat.sum_y),
        ).group_by(CalibrationStat.action_type),
    )
    assert {t: (n, pytest.approx(y)) for t, n, y in totals} == {
        t: (n, y) for t, (n, y) in per_type.items()
    }


# Feedback and configuration ----------------------------------------------------------------


async def test_feedback_is_on_scale_by_the_rep_or_their_manager_and_follows_outcomes(
    small: AsyncSession,
) -> None:
    feedback = list(await small.scalars(select(Feedback)))
    by_target = defaultdict(list)
    for f in feedback:
        by_target[f.target_type].append(f)
    assert {t: len(v) > 0 for t, v in by_target.items()} == {
        "message": True,
        "action": True,
        "conversation": True,
    }
    assert all(f.rating in (0, 1) for f in by_target["message"])
    assert all(1 <= f.rating <= 5 and f.prompted for f in by_target["action"])
    assert all(
        f.criteria.keys() == {"tone", "accuracy", "next_step"} for f in by_target["conversation"]
    )
    assert {f.channel for f in feedback} == {"slack", "gmail", "dashboard"}
    assert 0.1 < sum(f.comment is not None for f in feedback) / len(feedback) < 0.5
    assert all(f.created_at < NOW for f in feedback)
    owners = dict(await rows(small, select(Agent.id, Agent.owner_id)))
    manager_of = dict(
        await rows(
            small,
            select(User.id, TeamManager.user_id)
            .join(TeamManager, TeamManager.team_id == User.team_id)
            .where(User.role == "rep"),
        )
    )
    assert all(
        f.author_id in (owners[f.agent_id], manager_of[owners[f.agent_id]]) for f in feedback
    )
    rated = await rows(
        small,
        select(AgentAction.action_type, Feedback.rating, Outcome.value)
        .join(AgentAction, AgentAction.id == Feedback.action_id)
        .join(Outcome, Outcome.action_id == AgentAction.id)
        .where(Outcome.status == "resolved"),
    )
    assert {t for t, _, _ in rated} == {"escalation", "stage_progression"}
    good = [r for _, r, v in rated if v >= 0.5]
    bad = [r for _, r, v in rated if v < 0.5]
    assert sum(good) / len(good) > sum(bad) / len(bad) + 0.5


async def test_policies_baselines_alert_rules_and_report_subscriptions(small: AsyncSession) -> None:
    demo = await org_id(small, "demo")
    policies = list(
        await small.scalars(select(AgentPolicy).where(AgentPolicy.organization_id == demo))
    )
    assert len(policies) == 12 * 5
    for p in policies:  # each action type starts from its own defaults
        defaults = policy_defaults(p.action_type, None).thresholds
        assert (p.escalate_below, p.autonomous_above, p.version) == (
            defaults.escalate_below,
            defaults.autonomous_above,
            1,
        )
    changes = list(
        await small.scalars(select(PolicyChange).where(PolicyChange.organization_id == demo))
    )
    assert sorted(c.policy_id for c in changes) == sorted(p.id for p in policies)
    assert {(c.changed_by, c.reason) for c in changes} == {("system", "initial policy (defaults)")}
    baselines = list(
        await small.scalars(select(HumanBaseline).where(HumanBaseline.organization_id == demo))
    )
    assert len(baselines) == 3 * 5
    email = [b for b in baselines if b.action_type == "email"]
    assert all(0.06 <= b.response_rate <= 0.12 for b in email)
    assert all(55 <= float(b.loaded_hourly_cost) <= 95 for b in baselines)
    assert all(b.valid_from == (NOW - dt.timedelta(days=90)).date() for b in baselines)
    rules = list(await small.scalars(select(AlertRule).where(AlertRule.organization_id == demo)))
    assert sum(r.metric == "reply_rate" and r.scope == "team" for r in rules) == 3
    assert any(r.metric == "calibration_error" and r.scope == "organization" for r in rules)
    kinds = [
        s.kind
        for s in await small.scalars(
            select(ReportSubscription).where(ReportSubscription.organization_id == demo)
        )
    ]
    assert sorted(kinds) == ["executive_weekly"] + ["manager_daily"] * 3


async def test_reps_have_today_s_prompts_by_the_product_s_rules(small: AsyncSession) -> None:
    prompts = list(await small.scalars(select(FeedbackPrompt)))
    owner = dict(await rows(small, select(Agent.id, Agent.owner_id)))
    critical = dict(await rows(small, select(AgentAction.id, AgentAction.is_critical)))
    assert prompts and all(p.state == "open" and p.created_at == NOW for p in prompts)
    assert all(p.user_id == owner[p.agent_id] for p in prompts)  # the rep who owns the agent
    assert {p.reason for p in prompts} == {
        "critical_action",
        "uncertain_confidence",
        "outcome_disagreement",
    }
    for p in prompts:
        assert critical[p.action_id] == (p.reason == "critical_action")
    per_rep: dict[int, list[FeedbackPrompt]] = defaultdict(list)
    for p in prompts:
        per_rep[p.user_id].append(p)
    policy = PromptPolicy()
    for asked in per_rep.values():
        assert len(asked) <= policy.daily_budget
        assert sum(p.reason != "critical_action" for p in asked) <= policy.daily_suggestions


async def test_nothing_refers_across_organisations(small: AsyncSession) -> None:
    """Every row's organisation is the organisation of the agent, action or person it names."""
    agent_org = dict(await rows(small, select(Agent.id, Agent.organization_id)))
    user_org = dict(await rows(small, select(User.id, User.organization_id)))
    action_org = dict(await rows(small, select(AgentAction.id, AgentAction.organization_id)))
    for model in (
        AgentAction,
        Outcome,
        Signal,
        Feedback,
        CalibrationStat,
        Conversation,
        Message,
        AgentPolicy,
        OutcomeLabel,
    ):
        for org, agent in await rows(small, select(model.organization_id, model.agent_id)):
            assert agent is None or agent_org[agent] == org, model.__tablename__
    for org, author in await rows(small, select(Feedback.organization_id, Feedback.author_id)):
        assert user_org[author] == org
    for org, action in await rows(small, select(Outcome.organization_id, Outcome.action_id)):
        assert action_org[action] == org
    for org, owner in await rows(small, select(Deal.organization_id, Deal.owner_id)):
        assert user_org[owner] == org


# The seeding itself ------------------------------------------------------------------------


async def test_another_now_gives_other_data_and_seeding_shows_progress(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same `now` giving the same data is checked on the full-size demo, which the loop's
    # tests seed twice anyway (test_loop.test_same_now_gives_the_same_loop); here: progress,
    # and another `now` giving other data.
    first = sqlite_url(tmp_path / "a.db")
    await upgrade_async(first)
    await seed(first, now=NOW, scale=TINY, progress=True)
    assert "seed-demo" in capsys.readouterr().err
    later = sqlite_url(tmp_path / "c.db")
    await upgrade_async(later)
    await seed(later, now=NOW + dt.timedelta(days=1), scale=TINY)
    assert (await fingerprint(later))["actions"] != (await fingerprint(first))["actions"]


async def test_a_second_run_is_refused_and_changes_nothing(tmp_path: Any) -> None:
    url = sqlite_url(tmp_path / "twice.db")
    await upgrade_async(url)
    await seed(url, now=NOW, scale=TINY)
    before = await fingerprint(url)
    with pytest.raises(DatabaseNotEmptyError) as refused:
        await seed(url, now=NOW, scale=TINY)
    actions = before["counts"]["agent_actions"]
    assert str(refused.value) == (
        f"the database already holds 2 organisations (demo, acme) and {actions} actions;"
        " seed-demo only fills an empty database"
    )
    assert await fingerprint(url) == before


async def test_a_failure_part_way_leaves_nothing_behind(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path / "broken.db")
    await upgrade_async(url)
    real = seed_module.insert_configuration

    async def fail_on_acme(writer: Any, org: Any, *args: Any, **kwargs: Any) -> None:
        if org.plan.slug == "acme":
            raise RuntimeError("disk full")
        await real(writer, org, *args, **kwargs)

    monkeypatch.setattr(seed_module, "insert_configuration", fail_on_acme)
    with pytest.raises(RuntimeError, match="disk full"):
        await seed(url, now=NOW, scale=TINY)
    assert set((await fingerprint(url))["counts"].values()) <= {0, 1}  # alembic_version only


def test_now_defaults_to_the_start_of_the_utc_day_and_must_be_aware() -> None:
    today = start_of_today()
    assert today.tzinfo == dt.UTC and (today.hour, today.minute, today.second) == (0, 0, 0)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        asyncio.run(seed_demo(None, now=dt.datetime(2026, 1, 1)))  # type: ignore[arg-type]


async def test_full_size_seed_is_realistic_on_sqlite(full_seed: tuple[str, SeedReport]) -> None:
    url, report = full_seed
    assert 30_000 <= report.counts["agent_actions"] <= 42_500 + 400
    assert report.counts["feedback"] >= 2000
    assert "seeded demo, acme in" in report.summary()
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            demo = await org_id(session, "demo")
            per_agent = [
                n
                for _, n in await rows(
                    session,
                    select(AgentAction.agent_id, func.count())
                    .where(AgentAction.organization_id == demo)
                    .group_by(AgentAction.agent_id),
                )
            ]
            assert len(per_agent) == 12 and all(2500 <= n <= 3500 for n in per_agent)
            rate = await session.scalar(
                select(func.avg(Outcome.value)).where(
                    Outcome.organization_id == demo,
                    Outcome.action_type == "email",
                    Outcome.outcome_type == "email_reply",
                    Outcome.status == "resolved",
                )
            )
            assert rate is not None and 0.08 <= rate <= 0.15
    finally:
        await engine.dispose()


# PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A dedicated, fresh and migrated PostgreSQL database, dropped afterwards."""
    with fresh_postgres("sal_seed") as url:
        yield url


async def test_seeds_postgresql_like_sqlite(
    postgresql_url: str, small_url: tuple[str, Any]
) -> None:
    report = await seed(postgresql_url, now=NOW, scale=SMALL)
    assert report.counts == small_url[1].counts
    on_postgresql = await fingerprint(postgresql_url)
    on_sqlite = await fingerprint(small_url[0])
    assert on_postgresql["counts"] == on_sqlite["counts"]
    assert on_postgresql["contacts"] == on_sqlite["contacts"]
    assert on_postgresql["actions"][:2] == pytest.approx(on_sqlite["actions"][:2])
    assert on_postgresql["stats"] == pytest.approx(on_sqlite["stats"])
    with pytest.raises(DatabaseNotEmptyError):
        await seed(postgresql_url, now=NOW, scale=SMALL)
    engine = create_engine(postgresql_url)
    try:
        async with create_sessionmaker(engine)() as session:
            roles = dict(await rows(session, select(User.email, User.role)))
            assert (
                roles["exec@demo.example"] == "executive" and roles["rep12@demo.example"] == "rep"
            )
            assert math.isclose(
                await session.scalar(select(func.sum(CalibrationStat.count))) or 0,
                await session.scalar(
                    select(func.count()).select_from(
                        calibrating_outcomes().where(Outcome.status == "resolved").subquery()
                    )
                )
                or 0,
            )
    finally:
        await engine.dispose()
