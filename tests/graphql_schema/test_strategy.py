"""`strategicView`, `whatIf`, `dealWinProbability`, `winProbabilityReliability` over HTTP: who
may read them, validation errors by field, a foreign deal as unknown."""

from __future__ import annotations

import datetime as dt
from typing import Any

from strawberry.relay import GlobalID

from backend.crm.models import Deal
from backend.unit_of_work import transaction

STRATEGY = """
query($from: Date, $to: Date) { strategicView(from: $from, to: $to) {
  from to currency note
  actionTypes { actionType judgedFrom judgedTo actions escalations recommendation verdict
    maturedUntil
    current { autonomous reviewed escalated errors { value lower upper } }
    escalatedSuccess { rate lower upper }
    evidence { finding value lower upper target reason } }
  assumptions { name actionType source } } }
"""
WHAT_IF = """
query($t: String!, $x: Float!, $e: Float) { whatIf(actionType: $t, autonomyThreshold: $x,
  escalationThreshold: $e, from: "2026-10-01", to: "2026-11-02") {
  actionType actions autonomyThreshold recalibrationMethod
  current { autonomous } proposed { autonomous }
  change { autonomous errors { value lower upper } }
  changeValue { netValue { low expected high } }
  assumptions { name source } } }
"""
DEAL = """
query($id: ID!) { dealWinProbability(dealId: $id) {
  dealId stage stageReached method probability { value lower upper }
  reliability { closedDeals wonDeals method brier curve { count } } } }
"""


def _q(api: Any, query: str, variables: dict[str, Any], as_: str) -> dict[str, Any]:
    return api.query(query, variables, as_=as_)


def test_the_strategic_view_is_for_executives(api: Any) -> None:
    # Each type is judged on days whose outcomes have all matured: on the factories' day
    # (November 2) the e-mails sent that day are still maturing, so none is judged yet...
    early = _q(api, STRATEGY, {}, "exec_n")["data"]["strategicView"]["actionTypes"]
    email = next(t for t in early if t["actionType"] == "email")
    assert email["actions"] == 0 and email["judgedTo"] < "2026-11-02"
    # ... ten days later their 7-day windows have closed: the 30 days judged end after them.
    api.clock.advance(dt.timedelta(days=10))
    result = _q(api, STRATEGY, {}, "exec_n")
    assert "errors" not in result, result
    view = result["data"]["strategicView"]
    email = next(t for t in view["actionTypes"] if t["actionType"] == "email")
    assert email["judgedFrom"] <= "2026-11-02" <= email["judgedTo"] < view["to"]
    # the factories' three e-mails for each of north's three agents (south's are not seen)
    assert email["actions"] == 9
    assert email["recommendation"] in ("hold", "expand_autonomy", "pull_back")
    assert all(e["reason"] for e in email["evidence"])
    for who in ("manager_a", "rep_a1", "agent_a1"):
        denied = _q(api, STRATEGY, {}, who)
        assert denied["data"] is None and denied["errors"], who


def test_what_if_names_its_bad_arguments(api: Any) -> None:
    ok = _q(api, WHAT_IF, {"t": "email", "x": 0.3}, "exec_n")
    assert "errors" not in ok, ok
    assert ok["data"]["whatIf"]["autonomyThreshold"] == 0.3
    for variables, field in (
        ({"t": "email", "x": 1.5}, "autonomyThreshold"),
        ({"t": "email", "x": 0.3, "e": 0.6}, "escalationThreshold"),
        ({"t": "Email!", "x": 0.3}, "actionType"),
        ({"t": "webinar", "x": 0.3}, "actionType"),
    ):
        errors = _q(api, WHAT_IF, variables, "exec_n")["errors"]
        assert errors[0]["extensions"]["field"] == field, (variables, errors)


async def _deal(state: Any, world: Any, owner: str) -> int:
    agent = world.agents[owner]
    async with transaction(state.sessions) as session:
        deal = Deal(
            organization_id=agent.organization_id,
            name="d",
            stage="discovery",
            owner_id=agent.owner_id,
            agent_id=agent.id,
        )
        session.add(deal)
        await session.flush()
        return int(deal.id)


def test_a_deals_win_probability_and_a_foreign_one(api: Any) -> None:
    ours = api.client.portal.call(_deal, api.client.app.state.app, api.world, "rep_a1")
    theirs = api.client.portal.call(_deal, api.client.app.state.app, api.world, "rep_s1")
    found = _q(api, DEAL, {"id": str(GlobalID("Deal", str(ours)))}, "rep_a1")
    assert "errors" not in found, found
    deal = found["data"]["dealWinProbability"]
    assert deal["stageReached"] == "discovery" and deal["method"] == "stage_rate"
    assert deal["reliability"]["closedDeals"] == 0
    assert deal["probability"] == {"value": 0.5, "lower": 0.0, "upper": 1.0}
    foreign = _q(api, DEAL, {"id": str(GlobalID("Deal", str(theirs)))}, "rep_a1")
    assert foreign["errors"][0]["extensions"]["code"] == "not_found", foreign


def test_the_reliability_says_plainly_when_the_probabilities_do_not_beat_the_share_won() -> None:
    from analytics_engine.strategy import WinReliability
    from backend.strategy.service import WinModelReliability
    from graphql_schema.strategy.types import WinProbabilityReliability

    def shown(brier: float) -> WinProbabilityReliability:
        # 63 of 91 won: always saying 69% scores 0.692 x 0.308 = 0.213
        scores = WinReliability(91, brier, 63 / 91 * 28 / 91, 0.08, ())
        return WinProbabilityReliability.of(WinModelReliability(91, 63, "logistic", scores))

    worse = shown(0.231)
    assert worse.skill is not None and worse.skill < 0
    assert worse.verdict.startswith("Brier 0.231 against 0.213 for always saying 69%")
    assert "do not rely on them" in worse.verdict
    better = shown(0.150)
    assert better.skill is not None and round(better.skill, 2) == 0.30
    assert better.verdict.endswith("skill 30% over the share won.")
