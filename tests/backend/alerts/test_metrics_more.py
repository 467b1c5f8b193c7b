"""Threshold rules on escalation appropriateness, cost per interaction, feedback score,
labelling queue age and unanswered prompts, on hand-built rows: they fire and stay quiet by
their scope (a team's rule sees only its agents, another organisation never counts), count
only matured or finished days, measure the queue and the prompts at the moment given, and
are validated by field."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.actions.models import ActionStat, AgentAction
from backend.alerts.evaluation import evaluate_rule
from backend.alerts.events import AlertChange
from backend.alerts.judgement import Judgement, judge_series_rule
from backend.alerts.models import Alert, AlertRule
from backend.alerts.rules import RuleInput, upsert_rule
from backend.errors import DomainError, InvalidInput
from backend.feedback.models import FeedbackStat
from backend.outcomes.models import Outcome, OutcomeStat
from backend.prompts.models import FeedbackPrompt
from backend.signals.models import Signal
from backend.unit_of_work import transaction
from tests.backend.alerts.builders import add_rule
from tests.backend.conftest import Loop
from tests.factories import NOW

TODAY = NOW.date()
YESTERDAY = TODAY - dt.timedelta(days=1)
# Escalation quality is decided by an event (30 days, then a person is asked): its last
# matured day is 31 days before today.
LAST_MATURED_ESCALATION = TODAY - dt.timedelta(days=31)
_keys = itertools.count()


def _days(last: dt.date, days: int = 7) -> list[dt.date]:
    return [last - dt.timedelta(days=i) for i in range(days)]


async def _evaluate(loop: Loop, rule_id: int, now: dt.datetime = NOW) -> AlertChange | None:
    async with transaction(loop.state.sessions) as session:
        return await evaluate_rule(session, rule_id, now=now)


async def _alerts(loop: Loop, rule_id: int) -> list[Alert]:
    async with loop.state.sessions() as session:
        statement = select(Alert).where(Alert.rule_id == rule_id).order_by(Alert.id)
        return list(await session.scalars(statement))


async def _judge(
    loop: Loop, rule_id: int, agent_ids: list[int] | None, *, now: dt.datetime = NOW
) -> Judgement | None:
    """What the rule finds at ``now`` over these agents (the rule's scope, as the worker
    resolves it)."""
    async with loop.state.sessions() as session:
        rule = await session.get(AlertRule, rule_id)
        assert rule is not None
        return await judge_series_rule(session, rule, agent_ids=agent_ids, config=None, now=now)


async def _rules(loop: Loop, metric: str, **rules: dict[str, Any]) -> dict[str, int]:
    """Threshold rules on ``metric``, by name: each a team (``team``), an agent (``agent``) or
    the organisation of north."""
    world: Any = loop.world
    north = world.orgs["north"].id
    ids = {}
    async with transaction(loop.state.sessions) as session:
        for name, values in rules.items():
            values = dict(values)
            if "team" in values:
                values.update(scope="team", team_id=world.teams[values.pop("team")].id)
            if "agent" in values:
                agent = world.agents[values.pop("agent")]
                values.update(scope="agent", agent_id=agent.id, team_id=agent.team_id)
            rule = await add_rule(session, north, name=name, metric=metric, **values)
            ids[name] = rule.id
    return ids


def _team(loop: Loop, team: str) -> list[int]:
    world: Any = loop.world
    return [a.id for a in world.agents.values() if a.team_id == world.teams[team].id]


# -- escalation appropriateness ----------------------------------------------------------------


def _escalations(agent: Any, day: dt.date, judged: int, quality: float) -> OutcomeStat:
    return OutcomeStat(
        organization_id=agent.organization_id,
        agent_id=agent.id,
        day=day,
        action_type="escalation",
        outcome_type="escalation_quality",
        resolved=judged,
        successes=judged * quality,
        pending=0,
    )


async def test_escalation_appropriateness_on_matured_days_by_scope(loop: Loop) -> None:
    world: Any = loop.world
    a1, b1, s1 = (world.agents[k] for k in ("rep_a1", "rep_b1", "rep_s1"))
    async with transaction(loop.state.sessions) as session:
        for day in _days(LAST_MATURED_ESCALATION):
            session.add(_escalations(a1, day, 10, 0.9))
            session.add(_escalations(b1, day, 10, 0.2))
            session.add(_escalations(s1, day, 1000, 1.0))  # another organisation
        # a day still maturing, judged badly: not counted yet
        session.add(_escalations(a1, TODAY - dt.timedelta(days=5), 1000, 0.0))
    rules = await _rules(
        loop,
        "escalation_appropriateness",
        alpha={"team": "alpha", "direction": "below", "threshold": 0.6},
        beta={"team": "beta", "direction": "below", "threshold": 0.6},
        north={"direction": "below", "threshold": 0.6},
    )
    assert await _evaluate(loop, rules["alpha"]) is None
    assert await _alerts(loop, rules["alpha"]) == []
    assert await _evaluate(loop, rules["beta"]) is AlertChange.CREATED
    [alert] = await _alerts(loop, rules["beta"])
    assert (alert.team_id, alert.observed, alert.expected) == (world.teams["beta"].id, 0.2, 0.6)
    assert alert.evidence["n"] == 70
    assert alert.evidence["window"] == {
        "from": (LAST_MATURED_ESCALATION - dt.timedelta(days=6)).isoformat(),
        "to": LAST_MATURED_ESCALATION.isoformat(),
    }
    # north pools its two teams, 0.55; south's thousands of good escalations never count
    assert await _evaluate(loop, rules["north"]) is AlertChange.CREATED
    [alert] = await _alerts(loop, rules["north"])
    assert alert.observed == pytest.approx(0.55) and alert.evidence["n"] == 140


# -- cost per interaction ----------------------------------------------------------------------


def _costs(
    agent: Any, day: dt.date, actions: int, cost: float, *, currency: str = "USD"
) -> ActionStat:
    return ActionStat(
        organization_id=agent.organization_id,
        agent_id=agent.id,
        day=day,
        action_type="email",
        currency=currency,
        actions=actions,
        escalations=0,
        critical=0,
        cost=Decimal(str(cost)),
        tokens=0,
    )


async def _set_cost(loop: Loop, agent: Any, per_action: float) -> None:
    async with transaction(loop.state.sessions) as session:
        rows = await session.scalars(
            select(ActionStat).where(
                ActionStat.agent_id == agent.id,
                ActionStat.currency == "USD",
                ActionStat.day < TODAY,
            )
        )
        for row in rows:
            row.cost = Decimal(str(round(row.actions * per_action, 6)))


async def test_cost_per_interaction_fires_by_scope_and_clears_past_its_band(loop: Loop) -> None:
    world: Any = loop.world
    a1, a2, b1, s1 = (world.agents[k] for k in ("rep_a1", "rep_a2", "rep_b1", "rep_s1"))
    async with transaction(loop.state.sessions) as session:
        for day in _days(YESTERDAY):
            session.add(_costs(a1, day, 10, 0.8))  # 0.08 a action
            session.add(_costs(a1, day, 2, 9.0, currency="EUR"))  # kept apart, never added
            session.add(_costs(b1, day, 10, 0.1))  # 0.01
            session.add(_costs(s1, day, 10, 50.0))  # another organisation
        session.add(_costs(a2, YESTERDAY, 5, 5.0))  # 5 actions: too few to judge
        session.add(_costs(a1, TODAY, 1000, 0.0))  # today is not over: not counted
    rules = await _rules(
        loop,
        "cost_per_interaction",
        alpha={"team": "alpha", "direction": "above", "threshold": 0.05},
        beta={"team": "beta", "direction": "above", "threshold": 0.05},
        a2={"agent": "rep_a2", "direction": "above", "threshold": 0.05},
        meetings={"team": "alpha", "action_type": "meeting", "direction": "above", "threshold": 0},
        north={"direction": "above", "threshold": 0.05},
    )
    assert await _evaluate(loop, rules["beta"]) is None
    assert await _evaluate(loop, rules["a2"]) is None
    assert await _evaluate(loop, rules["meetings"]) is None  # no meeting cost anywhere
    assert await _evaluate(loop, rules["alpha"]) is AlertChange.CREATED
    [alert] = await _alerts(loop, rules["alpha"])
    # a1's 70 USD actions and a2's 5 (at 1.0 each): (5.6 + 5) / 75
    assert alert.observed == pytest.approx(10.6 / 75)
    assert alert.evidence["n"] == 75 and alert.evidence["currency"] == "USD"
    assert alert.evidence["otherCurrencies"] == [{"currency": "EUR", "actions": 14, "cost": 63.0}]
    assert alert.evidence["window"] == {
        "from": (YESTERDAY - dt.timedelta(days=6)).isoformat(),
        "to": YESTERDAY.isoformat(),
    }
    assert "USD" in alert.message and "is above 0.0500 USD" in alert.message
    assert "75 actions" in alert.message
    # north: both teams, never south (whose 5.0 a action would dwarf them)
    assert await _evaluate(loop, rules["north"]) is AlertChange.CREATED
    [north] = await _alerts(loop, rules["north"])
    assert north.observed == pytest.approx((5.6 + 5 + 0.7) / 145)

    # Inside the band (clears at 0.045): still open; below it: cleared.
    later = NOW + dt.timedelta(hours=1)
    await _set_cost(loop, a1, 0.047)
    await _set_cost(loop, a2, 0.047)
    assert await _evaluate(loop, rules["alpha"], later) is None
    [alert] = await _alerts(loop, rules["alpha"])
    assert alert.state == "firing" and alert.cleared_at is None
    await _set_cost(loop, a1, 0.03)
    await _set_cost(loop, a2, 0.03)
    assert await _evaluate(loop, rules["alpha"], later) is None
    [alert] = await _alerts(loop, rules["alpha"])
    assert alert.state == "firing" and alert.cleared_at == later


# -- feedback score ----------------------------------------------------------------------------


def _ratings(agent: Any, day: dt.date, target: str, count: int, rating_sum: int) -> FeedbackStat:
    return FeedbackStat(
        organization_id=agent.organization_id,
        agent_id=agent.id,
        day=day,
        target_type=target,
        count=count,
        rating_sum=rating_sum,
        prompted=0,
    )


async def test_feedback_score_pools_thumbs_and_ratings_by_scope(loop: Loop) -> None:
    world: Any = loop.world
    a1, b1, s1 = (world.agents[k] for k in ("rep_a1", "rep_b1", "rep_s1"))
    async with transaction(loop.state.sessions) as session:
        for day in _days(YESTERDAY):
            session.add(_ratings(a1, day, "message", 4, 1))  # one thumb up of 4: 0.25
            session.add(_ratings(a1, day, "action", 4, 8))  # 2 of 5 each: 0.25
            session.add(_ratings(b1, day, "action", 4, 20))  # 5 of 5: 1.0
            session.add(_ratings(s1, day, "message", 100, 0))  # another organisation
        session.add(_ratings(b1, TODAY, "message", 100, 0))  # today is not over
    rules = await _rules(
        loop,
        "feedback_score",
        a1={"agent": "rep_a1", "direction": "below", "threshold": 0.5},
        beta={"team": "beta", "direction": "below", "threshold": 0.5},
        north={"direction": "below", "threshold": 0.4},
    )
    assert await _evaluate(loop, rules["beta"]) is None
    assert await _evaluate(loop, rules["a1"]) is AlertChange.CREATED
    [alert] = await _alerts(loop, rules["a1"])
    assert (alert.agent_id, alert.observed, alert.evidence["n"]) == (a1.id, 0.25, 56)
    assert alert.evidence["byTarget"] == {
        "action": {"n": 28, "score": 0.25},
        "message": {"n": 28, "score": 0.25},
    }
    assert "feedback score 0.25 (of 1) is below 0.50 (of 1)" in alert.message
    # north: (0.25 x 56 + 1.0 x 28) / 84 = 0.5, not below 0.4; south's thumbs down never count
    assert await _evaluate(loop, rules["north"]) is None
    judged = await _judge(loop, rules["north"], None)
    assert judged is not None and judged.observed == pytest.approx(0.5)


# -- labelling queue age -----------------------------------------------------------------------


async def _outcome(
    session: Any,
    agent: Any,
    *,
    status: str = "needs_label",
    action_type: str = "email",
    opened: dt.timedelta,
    due: dt.timedelta,
    signal_received: dt.timedelta | None = None,
) -> Outcome:
    """An outcome of a new action of ``agent``, opened and due at those offsets from NOW (and,
    with ``signal_received``, sent to the queue by a signal received then)."""
    key = next(_keys)
    action = AgentAction(
        organization_id=agent.organization_id,
        agent_id=agent.id,
        action_type=action_type,
        confidence=0.5,
        idempotency_key=f"queue-{key}",
        occurred_at=NOW + opened,
    )
    session.add(action)
    await session.flush()
    signal_id = None
    if signal_received is not None:
        signal = Signal(
            organization_id=agent.organization_id,
            kind="email.replied",
            source="test",
            external_id=f"signal-{key}",
            agent_id=agent.id,
            matched=True,
            occurred_at=NOW + signal_received,
            received_at=NOW + signal_received,
        )
        session.add(signal)
        await session.flush()
        signal_id = signal.id
    resolved = status == "resolved"
    outcome = Outcome(
        organization_id=agent.organization_id,
        agent_id=agent.id,
        action_id=action.id,
        action_type=action_type,
        outcome_type="email_reply",
        window="engagement_7d",
        scale="binary",
        status=status,
        detection="human" if resolved else "pending_label",
        value=1.0 if resolved else None,
        opened_at=NOW + opened,
        due_at=NOW + due,
        resolved_at=NOW + due if resolved else None,
        signal_id=signal_id,
    )
    session.add(outcome)
    await session.flush()
    return outcome


async def test_label_queue_age_is_the_longest_wait_at_now_by_scope(loop: Loop) -> None:
    world: Any = loop.world
    a1, b1, s1 = (world.agents[k] for k in ("rep_a1", "rep_b1", "rep_s1"))
    h = dt.timedelta(hours=1)
    async with transaction(loop.state.sessions) as session:
        # its window ended 30 hours ago, no signal decided it
        await _outcome(session, a1, opened=-200 * h, due=-30 * h)
        # an ambiguous reply arrived 50 hours ago, its window still open: the longest wait
        by_signal = await _outcome(session, a1, opened=-72 * h, due=96 * h, signal_received=-50 * h)
        # not waiting for a person: still open, or labelled
        await _outcome(session, a1, status="open", opened=-900 * h, due=-800 * h)
        await _outcome(session, a1, status="resolved", opened=-900 * h, due=-800 * h)
        beta = await _outcome(session, b1, opened=-400 * h, due=-200 * h)
        await _outcome(session, s1, opened=-900 * h, due=-500 * h)  # another organisation
    rules = await _rules(
        loop,
        "label_queue_age",
        alpha={"team": "alpha", "direction": "above", "threshold": 48},
        alpha_52={"team": "alpha", "direction": "above", "threshold": 52},
        a2={"agent": "rep_a2", "direction": "above", "threshold": 0},
        meetings={"team": "alpha", "action_type": "meeting", "direction": "above", "threshold": 0},
        north={"direction": "above", "threshold": 100},
    )
    alpha = _team(loop, "alpha")
    judged = await _judge(loop, rules["alpha"], alpha)
    assert judged is not None and judged.holds and not judged.cleared
    assert judged.observed == pytest.approx(50)
    assert judged.evidence == {
        "at": NOW.isoformat(),
        "outcomeId": by_signal.id,
        "agentId": a1.id,
        "waitingSince": (NOW - 50 * h).isoformat(),
        "value": 50.0,
        "n": 2,
        "threshold": 48,
        "clearThreshold": pytest.approx(43.2),
    }
    assert judged.message == (
        "label queue age 50.0 hours is above 48.0 hours at 2026-11-02 15:30 UTC "
        f"(2 waiting; the oldest is outcome {by_signal.id})"
    )
    # below 52 hours but inside its band (clears below 46.8); measured at the moment given:
    # ten hours later it has waited 60
    judged = await _judge(loop, rules["alpha_52"], alpha)
    assert judged is not None and not judged.holds and not judged.cleared
    later = await _judge(loop, rules["alpha_52"], alpha, now=NOW + 10 * h)
    assert later is not None and later.observed == pytest.approx(60) and later.holds
    # nothing waiting is an age of 0, and is judged
    for empty in (
        await _judge(loop, rules["a2"], [world.agents["rep_a2"].id]),
        await _judge(loop, rules["meetings"], alpha),
    ):
        assert empty is not None and (empty.observed, empty.evidence["n"]) == (0, 0)
        assert not empty.holds and empty.cleared
    # north: beta's 200 hours, never south's 500
    judged = await _judge(loop, rules["north"], None)
    assert judged is not None and judged.observed == pytest.approx(200)
    assert judged.evidence["outcomeId"] == beta.id and judged.evidence["n"] == 3
    # the worker raises it (200 hours at any time of the day)
    assert await _evaluate(loop, rules["north"]) is AlertChange.CREATED
    [alert] = await _alerts(loop, rules["north"])
    assert alert.evidence["outcomeId"] == beta.id and "hours" in alert.message
    # the worker measures at its own moment, not at the day's start: alpha_52 holds ten hours on
    assert await _evaluate(loop, rules["alpha_52"]) is None
    assert await _evaluate(loop, rules["alpha_52"], NOW + 10 * h) is AlertChange.CREATED


# -- unanswered prompts ------------------------------------------------------------------------


async def _prompt(
    session: Any,
    agent: Any,
    user: Any,
    *,
    state: str,
    expires: dt.timedelta,
    action_type: str = "escalation",
) -> FeedbackPrompt:
    """A prompt of ``user`` on a new action of ``agent``, due at ``expires`` from NOW (asked a
    day before)."""
    action = AgentAction(
        organization_id=agent.organization_id,
        agent_id=agent.id,
        action_type=action_type,
        confidence=0.5,
        idempotency_key=f"prompt-{next(_keys)}",
        occurred_at=NOW + expires - dt.timedelta(days=1),
    )
    session.add(action)
    await session.flush()
    answered = state == "answered"
    prompt = FeedbackPrompt(
        organization_id=agent.organization_id,
        agent_id=agent.id,
        action_id=action.id,
        user_id=user.id,
        reason="critical_action",
        state=state,
        created_at=NOW + expires - dt.timedelta(days=1),
        expires_at=NOW + expires,
        answered_at=NOW + expires - dt.timedelta(hours=2) if answered else None,
        answered_channel="slack" if answered else None,
    )
    session.add(prompt)
    await session.flush()
    return prompt


async def test_unanswered_prompts_count_those_past_due_in_the_window_by_scope(
    loop: Loop,
) -> None:
    world: Any = loop.world
    a1, b1, s1 = (world.agents[k] for k in ("rep_a1", "rep_b1", "rep_s1"))
    rep_a1, rep_b1, rep_s1 = (world.users[k] for k in ("rep_a1", "rep_b1", "rep_s1"))
    d, h = dt.timedelta(days=1), dt.timedelta(hours=1)
    async with transaction(loop.state.sessions) as session:
        missed = [
            await _prompt(session, a1, rep_a1, state="expired", expires=-i * d) for i in (1, 2, 3)
        ]
        # past its due time, not yet marked expired by the worker
        missed.append(await _prompt(session, a1, rep_a1, state="open", expires=-h))
        stage = await _prompt(
            session, a1, rep_a1, state="expired", expires=-4 * d, action_type="stage_progression"
        )
        for _ in range(2):
            await _prompt(session, a1, rep_a1, state="answered", expires=-2 * d)
        await _prompt(session, a1, rep_a1, state="open", expires=5 * h)  # not due yet
        await _prompt(session, a1, rep_a1, state="expired", expires=-10 * d)  # before the window
        for _ in range(10):
            await _prompt(session, b1, rep_b1, state="expired", expires=-d)
            await _prompt(session, s1, rep_s1, state="expired", expires=-d)  # another org
    rules = await _rules(
        loop,
        "unanswered_prompts",
        alpha={"team": "alpha", "direction": "above", "threshold": 4},
        alpha_6={"team": "alpha", "direction": "above", "threshold": 6},
        escalations={
            "team": "alpha",
            "action_type": "escalation",
            "direction": "above",
            "threshold": 3,
        },
        north={"direction": "above", "threshold": 10},
    )
    alpha = _team(loop, "alpha")
    judged = await _judge(loop, rules["alpha"], alpha)
    assert judged is not None and judged.holds
    assert judged.observed == 5
    assert judged.evidence == {
        "window": {"from": (NOW - 7 * d).isoformat(), "to": NOW.isoformat()},
        "at": NOW.isoformat(),
        "due": 7,
        "answered": 2,
        "promptId": stage.id,
        "value": 5.0,
        "n": 7,
        "threshold": 4,
        "clearThreshold": pytest.approx(3.6),
    }
    assert judged.message == (
        "unanswered prompts 5 is above 4 in the 7 days to 2026-11-02 15:30 UTC (5 of 7 prompts due)"
    )
    judged = await _judge(loop, rules["alpha_6"], alpha)
    assert judged is not None and not judged.holds
    # the escalations' prompts only: the stage change's is left out
    judged = await _judge(loop, rules["escalations"], alpha)
    assert judged is not None and judged.holds and judged.observed == 4
    assert judged.evidence["promptId"] == missed[-1].id
    # five days later two have left the window, and the one not due then is past due now
    judged = await _judge(loop, rules["alpha"], alpha, now=NOW + 5 * d + h)
    assert judged is not None and judged.observed == 3 and not judged.holds
    assert (judged.evidence["due"], judged.evidence["answered"]) == (3, 0)
    # north: alpha's 5 and beta's 10, never south's
    judged = await _judge(loop, rules["north"], None)
    assert judged is not None and judged.observed == 15 and judged.holds
    assert await _evaluate(loop, rules["north"]) is AlertChange.CREATED


# -- validation --------------------------------------------------------------------------------


def _rule(**values: Any) -> RuleInput:
    base: dict[str, Any] = {
        "name": "More",
        "kind": "threshold",
        "metric": "cost_per_interaction",
        "direction": "above",
        "threshold": 0.05,
        "scope": "team",
    }
    return RuleInput(**{**base, **values})


async def test_the_new_metrics_are_validated_by_field(loop: Loop) -> None:
    world: Any = loop.world
    alpha = world.teams["alpha"].id
    cases: list[tuple[RuleInput, set[str | None]]] = [
        # the ratings' rollup has no action type; escalation outcomes only escalations'
        (_rule(team_id=alpha, metric="feedback_score", action_type="email"), {"actionType"}),
        (
            _rule(team_id=alpha, metric="escalation_appropriateness", action_type="email"),
            {"actionType"},
        ),
        (_rule(team_id=alpha, metric="reply_rate", action_type="meeting"), {"actionType"}),
        # no anomaly or drift on a mean, an age or a count
        (_rule(team_id=alpha, kind="anomaly", direction=None), {"metric"}),
        (_rule(team_id=alpha, kind="drift", metric="label_queue_age"), {"metric"}),
        (_rule(team_id=alpha, metric="label_queue_age", direction="below"), {"direction"}),
        (_rule(team_id=alpha, metric="unanswered_prompts", direction="below"), {"direction"}),
        (_rule(team_id=alpha, threshold=-1.0), {"threshold"}),
        (_rule(team_id=alpha, metric="label_queue_age", clear_threshold=-2.0), {"clearThreshold"}),
        (_rule(team_id=alpha, metric="feedback_score", threshold=3.0), {"threshold"}),
    ]
    for given, fields in cases:
        with pytest.raises(DomainError) as raised:
            async with transaction(loop.state.sessions) as session:
                await upsert_rule(session, loop.manager, given, now=NOW)
        errors = raised.value.errors if isinstance(raised.value, InvalidInput) else [raised.value]
        assert {e.field for e in errors} == fields, given
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AlertRule)) == 0

    accepted = [
        _rule(team_id=alpha, name="cost", threshold=2.5, action_type="email"),
        _rule(team_id=alpha, name="queue", metric="label_queue_age", threshold=72),
        _rule(team_id=alpha, name="prompts", metric="unanswered_prompts", threshold=10),
        _rule(team_id=alpha, name="score", metric="feedback_score", direction="below"),
        _rule(
            team_id=alpha,
            name="escalations",
            metric="escalation_appropriateness",
            direction="below",
            threshold=0.6,
            action_type="escalation",
        ),
        _rule(
            team_id=alpha,
            name="escalation anomalies",
            kind="anomaly",
            metric="escalation_appropriateness",
            direction=None,
            threshold=None,
        ),
    ]
    async with transaction(loop.state.sessions) as session:
        for given in accepted:
            await upsert_rule(session, loop.manager, given, now=NOW)
    async with loop.state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AlertRule)) == len(accepted)
