// One agent's view: the rep's own agent (or, for a manager or executive, the agent they drilled
// into): its figures with intervals, the daily response-rate trend (provisional days marked),
// escalation history (one list: `ActionFilter.escalated`), the feedback on the agent and the
// feedback the viewer gave it (`feedbackGiven`), open prompts answered in place, the label queue, alerts.

import { graphql } from "../../gql";
import { useQuery } from "../../api/use-query";
import { dateTime, integer, label, percent } from "../../charts/format";
import { Empty, QueryResult } from "../../components/status";
import { navigate, rangeDays, type Route } from "../../router";
import type { Viewer } from "../../viewer";
import { AlertsPanel } from "../shared/alerts";
import { LabelQueuePanel } from "../shared/label-queue";
import { AgentVersusHuman, CalibrationHealth, KeyFigures } from "../shared/metrics";
import { PromptsPanel } from "../shared/prompts";
import { ReplyTrend } from "../shared/reply-trend";

export const RepDashboardDocument = graphql(`
  query RepDashboard($agent: ID!, $from: Date, $to: Date) {
    repDashboard(agentId: $agent, from: $from, to: $to) {
      from
      to
      currency
      agent {
        id
        name
        owner {
          name
        }
        team {
          id
          name
        }
      }
      metrics {
        ...DashboardMetricsFields
      }
      daily {
        day
        actions
        replyOutcomes
        replyRate
        replyRateEstimate {
          lower
          upper
          count
        }
        provisional
        maturingReplies
      }
    }
  }
`);

export const AgentActivityDocument = graphql(`
  query AgentActivity($agent: ID!, $from: DateTime, $to: DateTime) {
    escalations: actions(filter: { agentId: $agent, escalated: true, from: $from, to: $to }, first: 20) {
      totalCount
      edges {
        node {
          ...EscalationFields
        }
      }
    }
    feedback(filter: { agentId: $agent, from: $from, to: $to }, first: 20) {
      totalCount
      edges {
        node {
          id
          targetType
          rating
          comment
          channel
          prompted
          createdAt
          author {
            id
            name
          }
        }
      }
    }
    feedbackGiven(filter: { agentId: $agent, from: $from, to: $to }, first: 20) {
      totalCount
      edges {
        node {
          id
          targetType
          rating
          comment
          channel
          prompted
          createdAt
        }
      }
    }
  }
`);

export const EscalationFields = graphql(`
  fragment EscalationFields on Action {
    id
    actionType
    confidence
    calibratedConfidence
    decision
    isCritical
    occurredAt
    outcomes {
      id
      outcomeType
      status
      levelLabel
    }
  }
`);

/** `YYYY-MM-DD` to the DateTime of its start, and of the next day's start (an exclusive end). */
function dayBounds(range: { from: string; to: string }): { from: string; to: string } {
  const end = new Date(`${range.to}T00:00:00Z`);
  end.setUTCDate(end.getUTCDate() + 1);
  return { from: `${range.from}T00:00:00+00:00`, to: end.toISOString().replace(".000Z", "+00:00") };
}

function Activity({ agent, route, viewer }: { agent: string; route: Route; viewer: Viewer }) {
  const state = useQuery(AgentActivityDocument, { agent, ...dayBounds(rangeDays(route.range)) });
  return (
    <QueryResult state={state} what="escalations and feedback">
      {(data) => {
        const escalations = [...data.escalations.edges.map((e) => e.node)].sort((a, b) => b.occurredAt.localeCompare(a.occurredAt));
        const given = data.feedbackGiven.edges.map((e) => e.node);
        return (
          <>
            <section aria-labelledby="escalations-title" id="escalations">
              <h2 id="escalations-title">Escalation history</h2>
              {escalations.length === 0 ? (
                <Empty>No escalations in this range.</Empty>
              ) : (
                <table>
                  <caption>
                    Escalations, newest first: {integer(data.escalations.totalCount)} escalation actions and actions the policy
                    escalated (the latest {escalations.length} shown)
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Action</th>
                      <th scope="col">Confidence (calibrated)</th>
                      <th scope="col">Policy said</th>
                      <th scope="col">Outcomes</th>
                    </tr>
                  </thead>
                  <tbody>
                    {escalations.map((a) => (
                      <tr key={a.id}>
                        <th scope="row">{dateTime(a.occurredAt)}</th>
                        <td>
                          {label(a.actionType)}
                          {a.isCritical ? " (critical)" : ""}
                        </td>
                        <td>
                          {percent(a.confidence)} ({percent(a.calibratedConfidence)})
                        </td>
                        <td>{a.decision?.toLowerCase() ?? "n/a"}</td>
                        <td>
                          {a.outcomes.length
                            ? a.outcomes
                                .map((o) => `${label(o.outcomeType)}: ${o.levelLabel ? label(o.levelLabel) : o.status.toLowerCase().replace("_", " ")}`)
                                .join("; ")
                            : "none yet"}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
            <section aria-labelledby="feedback-title" id="feedback">
              <h2 id="feedback-title">Feedback</h2>
              {data.feedback.edges.length === 0 ? (
                <Empty>No feedback on this agent in this range.</Empty>
              ) : (
                <table>
                  <caption>
                    Feedback on the agent, newest first: {integer(data.feedback.totalCount)} ratings (the latest{" "}
                    {data.feedback.edges.length} shown)
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">By</th>
                      <th scope="col">Rated</th>
                      <th scope="col">Rating</th>
                      <th scope="col">Where</th>
                      <th scope="col">Comment</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.feedback.edges.map(({ node: f }) => (
                      <tr key={f.id}>
                        <th scope="row">{dateTime(f.createdAt)}</th>
                        <td>{f.author?.id && f.author.id === viewer.user?.id ? "you" : (f.author?.name ?? "n/a")}</td>
                        <td>{f.targetType.toLowerCase()}</td>
                        <td>{f.targetType === "MESSAGE" ? (f.rating ? "thumb up" : "thumb down") : `${f.rating} of 5`}</td>
                        <td>
                          {f.channel.toLowerCase()}
                          {f.prompted ? ", prompted" : ""}
                        </td>
                        <td>{f.comment ?? ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <h3 id="feedback-given-title">Feedback you gave</h3>
              {given.length === 0 ? (
                <Empty>You gave no feedback on this agent in this range.</Empty>
              ) : (
                <table>
                  <caption>
                    Feedback you gave on the agent, newest first: {integer(data.feedbackGiven.totalCount)} ratings (the latest{" "}
                    {given.length} shown)
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Rated</th>
                      <th scope="col">Rating</th>
                      <th scope="col">Where</th>
                      <th scope="col">Comment</th>
                    </tr>
                  </thead>
                  <tbody>
                    {given.map((f) => (
                      <tr key={f.id}>
                        <th scope="row">{dateTime(f.createdAt)}</th>
                        <td>{f.targetType.toLowerCase()}</td>
                        <td>{f.targetType === "MESSAGE" ? (f.rating ? "thumb up" : "thumb down") : `${f.rating} of 5`}</td>
                        <td>
                          {f.channel.toLowerCase()}
                          {f.prompted ? ", prompted" : ""}
                        </td>
                        <td>{f.comment ?? ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </>
        );
      }}
    </QueryResult>
  );
}

export function RepView({ route, viewer }: { route: Route; viewer: Viewer }) {
  const agent = route.agent ?? viewer.agents[0]?.id ?? null;
  const own = viewer.role === "REP";
  // the URL's agent narrows the prompts and the label queue to it (without one, a rep's are all theirs)
  const agentName = viewer.agents.find((a) => a.id === route.agent)?.name;
  const scope = route.agent ? { agent: route.agent, name: agentName ? `agent ${agentName}` : "this agent" } : null;
  const state = useQuery(RepDashboardDocument, { agent: agent ?? "", ...rangeDays(route.range) }, { skip: !agent });
  if (!agent) return <Empty>You have no agent yet, so there is nothing to show.</Empty>;
  return (
    <>
      <section aria-labelledby="view-title">
        <QueryResult state={state} what="the agent's dashboard">
          {({ repDashboard: d }) => (
            <>
              <h2 id="view-title">{own ? "My agent" : "Agent"}: {d.agent?.name ?? "n/a"}</h2>
              <p class="subtitle">
                {d.agent?.owner ? `Owned by ${d.agent.owner.name}` : ""}
                {d.agent?.team ? (
                  <>
                    {" "}in team{" "}
                    <a
                      href={`?view=manager&team=${encodeURIComponent(d.agent.team.id)}`}
                      onClick={(e) => {
                        e.preventDefault();
                        navigate({ view: "manager", team: d.agent!.team!.id, agent: null });
                      }}
                    >
                      {d.agent.team.name}
                    </a>
                  </>
                ) : null}
                . {d.from} to {d.to}. Figures in {d.currency}.
              </p>
              <KeyFigures metrics={d.metrics} caption={`Key figures of ${d.agent?.name ?? "the agent"}`} />
              <ReplyTrend points={d.daily} period="day" title="Response rate by day" />
              <h3>Agent versus people</h3>
              <AgentVersusHuman metrics={d.metrics} title="Success rate by action type, agent versus people" />
              <CalibrationHealth metrics={d.metrics} caption="Calibration of the agent by action type" />
            </>
          )}
        </QueryResult>
      </section>
      <Activity agent={agent} route={route} viewer={viewer} />
      {own || (viewer.user && scope) ? <PromptsPanel viewerId={viewer.user?.id ?? null} scope={scope} /> : null}
      {own || (viewer.user && scope) ? <LabelQueuePanel title={own ? "My label queue" : "The agent's label queue"} scope={scope} /> : null}
      <AlertsPanel agent={agent} highlight={route.alert} title={own ? "My agent's alerts" : "The agent's alerts"} />
    </>
  );
}
