"""On the demo data, the loop finds what was planted: escalations are overconfident and their
policy moved; emails are calibrated and theirs stays put. The seed replays the loop over its
history already; the live path (``refresh_calibration``) then takes it on from there."""

from __future__ import annotations

from sqlalchemy import select

from backend.agents.models import Agent
from backend.calibration.models import CalibrationVerdict
from backend.handlers import open_state
from backend.learning import refresh_calibration
from backend.orgs.models import Organization
from backend.policy.models import AgentPolicy
from backend.settings import load_settings
from tests.backend.demo.seeding import NOW


async def test_demo_escalations_move_their_policy_and_emails_do_not(full_seed_copy: str) -> None:
    state = open_state(load_settings(database_url=full_seed_copy))
    try:
        async with state.sessions() as session:
            org = await session.scalar(select(Organization.id).where(Organization.slug == "demo"))
            agent = await session.scalar(
                select(Agent.id).where(Agent.organization_id == org).order_by(Agent.id)
            )
            seeded = await session.scalar(
                select(AgentPolicy.version).where(
                    AgentPolicy.agent_id == agent, AgentPolicy.action_type == "escalation"
                )
            )
        scopes = [(org, agent, "escalation"), (org, agent, "email")]
        await refresh_calibration(state, scopes, today=NOW.date())
        async with state.sessions() as session:
            verdicts = {
                v.action_type: v.verdict
                for v in await session.scalars(
                    select(CalibrationVerdict).where(
                        CalibrationVerdict.agent_id == agent,
                        CalibrationVerdict.action_type.in_(["escalation", "email"]),
                    )
                )
            }
            policies = {
                p.action_type: (p.version, p.autonomous_above)
                for p in await session.scalars(
                    select(AgentPolicy).where(AgentPolicy.agent_id == agent)
                )
            }
    finally:
        await state.close()
    assert verdicts == {"escalation": "overconfident", "email": "calibrated"}
    assert seeded is not None and seeded >= 2  # the seed's replay moved it already
    # The replay fed its policies every day matured by NOW: the live refresh the same day finds
    # no new evidence, so nothing moves again (the verdict alone never moves a policy).
    assert policies["escalation"][0] == seeded and policies["escalation"][1] > 0.75
    assert policies["email"] == (1, 0.05)
