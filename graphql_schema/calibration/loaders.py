"""DataLoaders of policies (created per request through `info.context.loaders`): every policy
of an agent, with the recalibration map in force for each, as far as the viewer may see."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from analytics_engine.recalibration import RecalibrationMap
from backend.calibration.service import recalibrations_in_force
from backend.policy.models import AgentPolicy
from backend.policy.repository import agents_policies
from graphql_schema.context import Context

PolicyInForce = tuple[AgentPolicy, RecalibrationMap]


def policies_by_agent(context: Context) -> DataLoader[int, list[PolicyInForce]]:
    """One statement for the policies of all the agents asked, one for their maps."""
    viewer = context.require_viewer()

    async def load(ids: list[int]) -> list[list[PolicyInForce]]:
        async with context.state.sessions() as session:
            grouped = await agents_policies(session, viewer, ids)
            maps = await recalibrations_in_force(
                session,
                organization_id=viewer.organization_id,
                policies=[(p.agent_id, p.action_type) for ps in grouped.values() for p in ps],
            )
        return [[(p, maps[(p.agent_id, p.action_type)]) for p in grouped.get(i, [])] for i in ids]

    return DataLoader(load_fn=load)
