"""The GraphQL documents the benches send: a rep's whole dashboard (every field of
`RepDashboard` except `agent`, which would add a lookup the plain endpoint does not make), a
team's and the organisation's whole dashboards (`bench_dashboards.py`), `recordSignals` (and a
batch's request bodies), and the `outcomeNeedsLabel` subscription."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from strawberry.relay import GlobalID

# Every field of `DashboardMetrics`, and the fragments it uses.
METRICS = """
      interactions
      actionsByType { actionType actions escalations critical tokens }
      escalations { count critical rate { ...Rate } }
      responses {
        emails pendingReplies maturingReplies meetingsBooked pendingAttendance maturingAttendance
        replies { ...Rate } versusHuman { ...Comparison } attendance { ...Rate }
      }
      ratesByActionType {
        actionType outcomeType resolved pending maturing humanConversionRate humanMinutesPerTask
        agent { ...Rate } versusHuman { ...Comparison }
      }
      dealImpact { progressed won lost winRate { ...Rate } amountWon { ...Total } }
      feedback {
        count prompted meanScore thumbsUp { ...Rate }
        byTarget { targetType count meanRating meanScore }
      }
      calibration {
        actionType outcomes brier debiasedError meanConfidence observedRate maturedOutcomes
        verdict verdictReason maturingOutcomes verdictExpectedBy
      }
      cost {
        tokens tokensPerInteraction perInteraction { amount currency } total { ...Total }
      }
      roi {
        interactions escalations redone automatedTasks promptsAnswered reviews labels
        hoursSaved roi note
        escalation { ...Rate } valueOfTimeSaved { amount currency }
        totalCost { amount currency } netValue { amount currency }
        costPerInteraction { amount currency }
        low { ...Scenario } expected { ...Scenario } high { ...Scenario }
        assumptions { name actionType low expected high source version effectiveFrom reason }
        byActionType {
          actionType low { ...Scenario } expected { ...Scenario } high { ...Scenario }
        }
      }
"""
TREND = (
    "day actions escalations replies replyOutcomes cost tokens escalationRate replyRate"
    " provisional maturingReplies opens machineOpens humanOpens clicks machineClicks humanClicks"
)
METRIC_FRAGMENTS = """
fragment Rate on RateEstimate { successes count rate lower upper }
fragment Scenario on RoiScenario {
  hoursSaved hoursSavedUncapped capacityHours capped humanHoursCaused incrementalSuccesses roi
  hourlyCost { amount } valueOfTimeSaved { amount } incrementalValue { amount }
  agentCost { amount } platformCost { amount } costOfHumanTime { amount } totalCost { amount }
  netValue { amount }
}
fragment Comparison on RateComparison {
  difference differenceLower differenceUpper pValue agent { ...Rate } human { ...Rate }
}
fragment Total on MoneyTotal {
  total { amount currency } otherCurrencies { amount currency }
}
"""

REP_DASHBOARD = f"""
query RepDashboard($agent: ID!, $from: Date, $to: Date) {{
  repDashboard(agentId: $agent, from: $from, to: $to) {{
    from to currency
    metrics {{ {METRICS} }}
    daily {{ {TREND} }}
  }}
}}
{METRIC_FRAGMENTS}"""

# A manager's and an executive's whole dashboard: every metric of the scope and of each row.
TEAM_DASHBOARD = f"""
query TeamDashboard($team: ID!, $from: Date, $to: Date) {{
  teamDashboard(teamId: $team, from: $from, to: $to) {{
    from to currency team {{ name }}
    metrics {{ ...Metrics }}
    agents {{ agent {{ name owner {{ name }} }} metrics {{ ...Metrics }} }}
    daily {{ {TREND} }}
  }}
}}
fragment Metrics on DashboardMetrics {{ {METRICS} }}
{METRIC_FRAGMENTS}"""

EXECUTIVE_DASHBOARD = f"""
query ExecutiveDashboard($from: Date, $to: Date) {{
  executiveDashboard(from: $from, to: $to) {{
    from to currency organization {{ name }}
    metrics {{ ...Metrics }}
    teams {{ team {{ name }} metrics {{ ...Metrics }} }}
    weekly {{ {TREND} }}
  }}
}}
fragment Metrics on DashboardMetrics {{ {METRICS} }}
{METRIC_FRAGMENTS}"""

RECORD_SIGNALS = """
mutation RecordSignals($input: RecordSignalsInput!) {
  recordSignals(input: $input) {
    received stored duplicates matched resolved needsLabel late
    unmatched { source externalId } errors { code field message }
  }
}
"""

OUTCOME_NEEDS_LABEL = """
subscription { outcomeNeedsLabel { version stream outcomeId agentId actionId reason } }
"""


def action_gid(action_id: int) -> str:
    return str(GlobalID("Action", str(action_id)))


def signal_bodies(action_ids: list[int], *, sentiment: bool) -> tuple[bytes, bytes]:
    """One batch of `email.replied` signals, a minute old, one per action: the GraphQL
    mutation's body and the plain endpoint's. With ``sentiment`` each reply is positive or
    negative (decisive); without, its outcome goes to a person for a label."""
    occurred_at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    items = []
    for i, action_id in enumerate(action_ids):
        item: dict[str, Any] = {
            "kind": "email.replied",
            "source": "bench",
            "externalId": f"reply-{action_id}",
            "occurredAt": occurred_at,
        }
        if sentiment:
            item["payload"] = {"sentiment": "positive" if i % 3 else "negative"}
        items.append(item)
    graphql = [
        {**item, "actionId": action_gid(a)} for item, a in zip(items, action_ids, strict=True)
    ]
    plain = [{**item, "actionId": a} for item, a in zip(items, action_ids, strict=True)]
    return (
        json.dumps(
            {"query": RECORD_SIGNALS, "variables": {"input": {"signals": graphql}}}
        ).encode(),
        json.dumps({"signals": plain}).encode(),
    )
