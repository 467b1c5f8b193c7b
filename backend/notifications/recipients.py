"""Who hears of an alert (by e-mail; in Slack, those with a Slack id): the managers of its team,
the rep of its agent, the executives for an organisation-wide alert. Each is checked against
`sees_alert`, the rule of the alerts page, so nobody is told of an alert they could not open.
Users are only read."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.alerts.models import Alert
from backend.alerts.service import sees_alert
from backend.auth.service import viewer_of_user
from backend.orgs.models import Role, TeamManager, User


@dataclass(frozen=True)
class Recipient:
    user_id: int
    name: str
    address: str
    slack_user_id: str | None = None  # `backend.slack.alert_outbox` messages them directly


async def alert_recipients(session: AsyncSession, alert: Alert) -> list[Recipient]:
    """The active people to tell of ``alert`` (by e-mail, or in Slack), by user id."""
    candidates: set[int] = set()
    team_id = alert.team_id
    if alert.agent_id is not None:
        agent = await session.get(Agent, alert.agent_id)
        if agent is not None:
            candidates.add(agent.owner_id)
            team_id = team_id or agent.team_id
    if team_id is not None:
        candidates.update(
            await session.scalars(
                select(TeamManager.user_id).where(
                    TeamManager.organization_id == alert.organization_id,
                    TeamManager.team_id == team_id,
                )
            )
        )
    else:
        candidates.update(
            await session.scalars(
                select(User.id).where(
                    User.organization_id == alert.organization_id,
                    User.role == Role.EXECUTIVE.value,
                )
            )
        )
    users = (
        await session.scalars(
            select(User)
            .where(
                User.organization_id == alert.organization_id,
                User.id.in_(sorted(candidates)),
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    ).all()
    recipients = []
    for user in users:
        viewer = await viewer_of_user(session, user.id)
        if viewer is not None and sees_alert(
            viewer, team_id=alert.team_id, agent_id=alert.agent_id
        ):
            recipients.append(Recipient(user.id, user.name, user.email, user.slack_user_id))
    return recipients
