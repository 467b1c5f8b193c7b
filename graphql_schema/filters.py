"""Inputs shared by the lists (`actions`, `outcomes`, `labelQueue`, `feedback`): their filters
and page arguments, checked and turned into the backend's filters.

Agent ids are global ids; a malformed one is an error naming `filter.agentId`, while an unknown,
foreign or out-of-scope agent simply matches nothing (exactly like an agent without rows).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.relay import GlobalID

from backend.actions import repository as actions
from backend.errors import Problems
from backend.feedback import repository as feedback
from backend.outcomes import repository as outcomes
from backend.pagination import DEFAULT_PAGE, MAX_PAGE
from graphql_schema.actions.types import DecisionEnum
from graphql_schema.feedback.types import FeedbackChannel, FeedbackTarget
from graphql_schema.outcomes.types import OutcomeStatus, OutcomeWindow

MAX_LIST_VALUES = 50
MAX_DATABASE_ID = 2**63 - 1

First = Annotated[
    int | None,
    strawberry.argument(description=f"Page size, 1..{MAX_PAGE} (default {DEFAULT_PAGE})."),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description="Start after this cursor (a `pageInfo.endCursor` of the same list)."
    ),
]


@strawberry.input(description="Which actions to list; every condition given must hold.")
class ActionFilter:
    agent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this agent's actions (its global id)."
    )
    action_types: list[str] | None = strawberry.field(
        default=None, description=f"Only these action types (at most {MAX_LIST_VALUES})."
    )
    from_: dt.datetime | None = strawberry.field(
        default=None, name="from", description="Occurred at or after this time (with offset)."
    )
    to: dt.datetime | None = strawberry.field(
        default=None, description="Occurred before this time (exclusive, with offset)."
    )
    critical: bool | None = strawberry.field(
        default=None, description="Only critical (true) or only non-critical (false) actions."
    )
    decision: DecisionEnum | None = strawberry.field(
        default=None, description="Only actions the policy gave this decision."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only the actions of this team's agents (its global id); a team out of "
        "sight matches nothing. With `agentId`, both must hold.",
    )
    escalated: bool | None = strawberry.field(
        default=None,
        description="Only escalations (true) or only the rest (false), as the dashboards count "
        "them: escalation actions and actions the policy said to escalate. The list behind "
        "`escalations.count`.",
    )


@strawberry.input(description="Which outcomes to list; every condition given must hold.")
class OutcomeFilter:
    agent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only outcomes of this agent's actions (its global id)."
    )
    action_type: str | None = strawberry.field(
        default=None, description="Only outcomes of actions of this type."
    )
    outcome_types: list[str] | None = strawberry.field(
        default=None, description=f"Only these outcome types (at most {MAX_LIST_VALUES})."
    )
    statuses: list[OutcomeStatus] | None = strawberry.field(
        default=None, description="Only outcomes in one of these statuses."
    )
    window: OutcomeWindow | None = strawberry.field(
        default=None, description="Only outcomes judged in this window."
    )
    from_: dt.datetime | None = strawberry.field(
        default=None, name="from", description="Window opened at or after this time."
    )
    to: dt.datetime | None = strawberry.field(
        default=None, description="Window opened before this time (exclusive)."
    )


@strawberry.input(description="Which feedback to list; every condition given must hold.")
class FeedbackFilter:
    agent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only feedback on this agent (its global id)."
    )
    target_type: FeedbackTarget | None = strawberry.field(
        default=None, description="Only ratings of this kind of target."
    )
    channel: FeedbackChannel | None = strawberry.field(
        default=None, description="Only feedback given in this channel."
    )
    prompted: bool | None = strawberry.field(
        default=None, description="Only answers to our prompts (true) or unprompted (false)."
    )
    min_rating: int | None = strawberry.field(
        default=None, description="Only ratings at or above this value."
    )
    max_rating: int | None = strawberry.field(
        default=None, description="Only ratings at or below this value."
    )
    from_: dt.datetime | None = strawberry.field(
        default=None, name="from", description="Given at or after this time."
    )
    to: dt.datetime | None = strawberry.field(
        default=None, description="Given before this time (exclusive)."
    )


def _agent_id(value: str | None, problems: Problems) -> int | None:
    return _row_id(value, "Agent", "agentId", problems)


def _row_id(value: str | None, type_name: str, field: str, problems: Problems) -> int | None:
    if value is None:
        return None
    try:
        global_id = GlobalID.from_id(value)
        if global_id.type_name != type_name:
            raise ValueError
        row_id = int(global_id.node_id)
    except ValueError:
        problems.add(field, f"is not {'an' if type_name[0] in 'AEIOU' else 'a'} {type_name} id")
        return None
    if not 1 <= row_id <= MAX_DATABASE_ID:
        problems.add(field, f"is not {'an' if type_name[0] in 'AEIOU' else 'a'} {type_name} id")
        return None
    return row_id


def _time_range(
    start: dt.datetime | None, end: dt.datetime | None, problems: Problems
) -> tuple[dt.datetime | None, dt.datetime | None]:
    for name, value in (("from", start), ("to", end)):
        problems.require(
            value is None or value.tzinfo is not None,
            name,
            "needs a UTC offset, e.g. 2026-11-02T15:30:00Z",
        )
    if start is not None and end is not None and start.tzinfo and end.tzinfo:
        problems.require(end > start, "to", "must be after `from`")
    return start, end


def _values(values: list[str] | None, name: str, problems: Problems) -> tuple[str, ...] | None:
    if values is None:
        return None
    problems.require(
        len(values) <= MAX_LIST_VALUES, name, f"takes at most {MAX_LIST_VALUES} values"
    )
    return tuple(values)


def action_filter(given: ActionFilter | None) -> actions.ActionFilter:
    if given is None:
        return actions.ActionFilter()
    problems = Problems("filter.")
    agent_id = _agent_id(given.agent_id, problems)
    team_id = _row_id(given.team_id, "Team", "teamId", problems)
    start, end = _time_range(given.from_, given.to, problems)
    types = _values(given.action_types, "actionTypes", problems)
    problems.raise_if_any()
    return actions.ActionFilter(
        agent_id=agent_id,
        team_id=team_id,
        escalated=given.escalated,
        action_types=types,
        occurred_from=start,
        occurred_to=end,
        critical=given.critical,
        decision=given.decision.value if given.decision else None,
    )


def outcome_filter(given: OutcomeFilter | None) -> outcomes.OutcomeFilter:
    if given is None:
        return outcomes.OutcomeFilter()
    problems = Problems("filter.")
    agent_id = _agent_id(given.agent_id, problems)
    start, end = _time_range(given.from_, given.to, problems)
    types = _values(given.outcome_types, "outcomeTypes", problems)
    statuses = _values(
        [s.value for s in given.statuses] if given.statuses is not None else None,
        "statuses",
        problems,
    )
    problems.raise_if_any()
    return outcomes.OutcomeFilter(
        agent_id=agent_id,
        action_type=given.action_type,
        outcome_types=types,
        statuses=statuses,
        window=given.window.value if given.window else None,
        opened_from=start,
        opened_to=end,
    )


def feedback_filter(given: FeedbackFilter | None) -> feedback.FeedbackFilter:
    if given is None:
        return feedback.FeedbackFilter()
    problems = Problems("filter.")
    agent_id = _agent_id(given.agent_id, problems)
    start, end = _time_range(given.from_, given.to, problems)
    low, high = given.min_rating, given.max_rating
    if low is not None and high is not None:
        problems.require(high >= low, "maxRating", "must be at least `minRating`")
    problems.raise_if_any()
    return feedback.FeedbackFilter(
        agent_id=agent_id,
        target_type=given.target_type.value if given.target_type else None,
        channel=given.channel.value if given.channel else None,
        prompted=given.prompted,
        min_rating=low,
        max_rating=high,
        created_from=start,
        created_to=end,
    )
