"""The GraphQL documents the browser tests ask the API directly, to compare with the page."""

from __future__ import annotations

RATE = "rate lower upper count"
METRICS = f"""interactions responses {{ replies {{ {RATE} }} maturingReplies pendingReplies }}"""
VIEWER = (
    "{ viewer { role user { id name team { id name } } organization { name } agents { id name } } }"
)
REP_DASHBOARD = f"""query($agent: ID!, $from: Date, $to: Date) {{
  repDashboard(agentId: $agent, from: $from, to: $to) {{
    from to agent {{ id name }} metrics {{ {METRICS} }}
    daily {{ day replyRate provisional }} }} }}"""
TEAM_DASHBOARD = f"""query($team: ID!, $from: Date, $to: Date) {{
  teamDashboard(teamId: $team, from: $from, to: $to) {{
    from to team {{ id name }} metrics {{ {METRICS} }} daily {{ day replyRate provisional }}
    agents {{ agent {{ id name }} metrics {{ interactions responses {{ replies {{ {RATE} }} }} }} }}
  }} }}"""
EXECUTIVE_DASHBOARD = f"""query($from: Date, $to: Date) {{
  executiveDashboard(from: $from, to: $to) {{
    from to organization {{ name }} metrics {{ {METRICS} }}
    weekly {{ day replyRate provisional }} }} }}"""
LABEL_QUEUE = "{ labelQueue(first: 50) { totalCount edges { node { id scaleLevels } } } }"
OUTCOME = "query($id: ID!) { node(id: $id) { ... on Outcome { id status levelLabel } } }"
OPEN_PROMPTS = """{ feedbackPrompts(state: OPEN, first: 50) { totalCount
  edges { node { id assignee { id } } } } }"""
SCOPED_LABEL_QUEUE = """query($team: ID, $agent: ID) {
  labelQueue(teamId: $team, agentId: $agent, first: 20) { totalCount edges { node { id } } } }"""
SCOPED_PROMPTS = """query($team: ID, $agent: ID) {
  feedbackPrompts(state: OPEN, teamId: $team, agentId: $agent, first: 20) { totalCount } }"""
TEAMS = "{ viewer { agents { id name team { id name } } } }"
PROMPT = "query($id: ID!) { node(id: $id) { ... on FeedbackPrompt { id state } } }"
ALERT = "query($id: ID!) { node(id: $id) { ... on Alert { id state acknowledgedBy { name } } } }"
OPEN_ALERTS = """query($team: ID) {
  alerts(teamId: $team, state: [FIRING, ACKNOWLEDGED], first: 50) {
    edges { node { id message state } } } }"""
UPSERT_ALERT_RULE = """mutation($input: UpsertAlertRuleInput!) {
  upsertAlertRule(input: $input) { rule { id } errors { code field message } } }"""
FREEZE_POLICY = """mutation($input: FreezePolicyInput!) {
  freezePolicy(input: $input) { policy { version frozen } errors { code field message } } }"""
POLICY = """query($agent: ID!, $type: String!) {
  policy(agentId: $agent, actionType: $type) { version frozen escalateBelow autonomousAbove
    evidence { moveAt fedThrough escalation { raiseEValue lowerEValue outcomes }
      autonomy { raiseEValue lowerEValue outcomes } } } }"""
ROI_ASSUMPTIONS = """query($from: Date, $to: Date) { executiveDashboard(from: $from, to: $to) {
  metrics { roi { assumptions { name actionType low expected high version reason } } } } }"""
REVIEWS_DONE = """query($reviewer: ID!) {
  reviewQueue(reviewerId: $reviewer, status: DONE) { totalCount } }"""
ESTIMATE = "rate lower upper count"
EXECUTIVE_FIGURES = f"""query($from: Date, $to: Date) {{
  executiveDashboard(from: $from, to: $to) {{ from to metrics {{
    interactions
    escalations {{ count critical rate {{ {ESTIMATE} }} }}
    responses {{ replies {{ {ESTIMATE} }} pendingReplies maturingReplies meetingsBooked
      attendance {{ {ESTIMATE} }} versusHuman {{ difference differenceLower differenceUpper }} }}
    dealImpact {{ progressed won lost winRate {{ {ESTIMATE} }}
      amountWon {{ total {{ amount currency }} }} }}
    feedback {{ count prompted meanScore thumbsUp {{ {ESTIMATE} }} }}
    cost {{ total {{ total {{ amount currency }} }} perInteraction {{ amount currency }} tokens }}
  }} }} }}"""
CALIBRATION = """query($type: String!, $from: Date, $to: Date) {
  calibration(actionType: $type, from: $from, to: $to) {
    from to maturedUntil sampleSize maturingOutcomes brierScore logLoss ece mce
    observedExpected { observed expected direction }
    hosmerLemeshow { statistic degreesOfFreedom pValue }
    verdict { kind actionable sampleSize z pValue observedExpected observedExpectedLower
      observedExpectedUpper debiasedError reason }
    monitor { eValue anytimePValue confirmed outcomes fedThrough }
    recalibration { method sampleSize } } }"""
CALIBRATION_HISTORY = """query($type: String!, $from: Date, $to: Date) {
  calibrationHistory(actionType: $type, from: $from, to: $to, interval: WEEK) {
    periodStart sampleSize debiasedError observedExpected observedExpectedLower
    observedExpectedUpper verdict } }"""
