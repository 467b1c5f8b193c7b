// The manager's view of one team: its totals and daily trend, its agents side by side with
// intervals (click one to drill down into it), coaching opportunities, alerts (live) and the
// label queue. `?team=<id>` picks the team (e-mailed reports link with it).

import { useCallback } from "preact/hooks";
import { graphql } from "../../gql";
import { useQuery } from "../../api/use-query";
import { dotIntervalChart } from "../../charts/dot-interval";
import { ChartFigure } from "../../charts/figure";
import { integer, money, noReplyRateYet, percent, rateOrNotYet, rateWithInterval } from "../../charts/format";
import { Empty, QueryResult } from "../../components/status";
import { navigate, rangeDays, type Route } from "../../router";
import { teamsOf, type Viewer } from "../../viewer";
import { AlertsPanel } from "../shared/alerts";
import { LabelQueuePanel } from "../shared/label-queue";
import { AgentVersusHuman, CalibrationHealth, KeyFigures } from "../shared/metrics";
import { PromptsPanel } from "../shared/prompts";
import { ReplyTrend } from "../shared/reply-trend";
import { CoachingPanel } from "./coaching";

export const TeamDashboardDocument = graphql(`
  query TeamDashboard($team: ID!, $from: Date, $to: Date) {
    teamDashboard(teamId: $team, from: $from, to: $to) {
      from
      to
      currency
      team {
        id
        name
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
      agents {
        agent {
          id
          name
          owner {
            name
          }
        }
        metrics {
          interactions
          escalations {
            count
            rate {
              rate
              lower
              upper
              count
            }
          }
          responses {
            replies {
              rate
              lower
              upper
              count
            }
            pendingReplies
            maturingReplies
          }
          feedback {
            count
            meanScore
          }
          cost {
            total {
              total {
                amount
                currency
              }
            }
          }
        }
      }
    }
  }
`);

/** The team a manager looks at: the URL's, else their own, else the first they see. */
export function teamOf(route: Route, viewer: Viewer): string | null {
  return route.team ?? viewer.user?.team?.id ?? teamsOf(viewer)[0]?.id ?? null;
}

type AgentRow = {
  agent?: { id: string; name: string } | null;
  metrics: {
    responses: { replies: { rate?: number | null; lower?: number | null; upper?: number | null; count: number }; maturingReplies: number; pendingReplies: number };
  };
};

function AgentsSideBySide({ agents }: { agents: AgentRow[] }) {
  const draw = useCallback(
    (width: number) =>
      dotIntervalChart(
        agents.map((a) => ({
          key: a.agent?.id ?? "",
          label: a.agent?.name ?? "an agent out of sight",
          value: a.metrics.responses.replies.rate ?? null,
          lower: a.metrics.responses.replies.lower ?? null,
          upper: a.metrics.responses.replies.upper ?? null,
          n: a.metrics.responses.replies.count,
          note: noReplyRateYet(a.metrics.responses),
        })),
        {
          width,
          xLabel: "Response rate",
          format: percent,
          onSelect: (row) => row.key && navigate({ view: "rep", agent: row.key }),
        },
      ),
    [agents],
  );
  return (
    <ChartFigure
      title="Agents side by side: response rate"
      description="Each agent's response rate with its 95 % interval; an agent without a decided reply yet says how many are still maturing. Click an agent to open its view."
      draw={draw}
    />
  );
}

export function ManagerView({ route, viewer }: { route: Route; viewer: Viewer }) {
  const team = teamOf(route, viewer);
  // the prompts and the label queue of the team shown, not of every team the viewer sees
  const teamName = teamsOf(viewer).find((t) => t.id === team)?.name;
  const scope = { team, name: teamName ? `team ${teamName}` : "this team" };
  const state = useQuery(TeamDashboardDocument, { team: team ?? "", ...rangeDays(route.range) }, { skip: !team });
  if (!team) return <Empty>You manage no team, so there is no team to show.</Empty>;
  return (
    <>
      <section aria-labelledby="view-title">
        <QueryResult state={state} what="the team's dashboard">
          {({ teamDashboard: d }) => (
            <>
              <h2 id="view-title">Team {d.team?.name ?? ""}</h2>
              <p class="subtitle">
                {d.from} to {d.to}. Figures in {d.currency}.
              </p>
              <KeyFigures metrics={d.metrics} caption={`Key figures of team ${d.team?.name ?? ""}`} />
              <ReplyTrend points={d.daily} period="day" title="Team reply rate by day" />
              <h3>Agents</h3>
              {d.agents.length ? (
                <>
                  <AgentsSideBySide agents={d.agents} />
                  <table>
                    <caption>Agents of the team (table)</caption>
                    <thead>
                      <tr>
                        <th scope="col">Agent</th>
                        <th scope="col">Actions</th>
                        <th scope="col">Response rate</th>
                        <th scope="col">Escalation rate</th>
                        <th scope="col">Feedback</th>
                        <th scope="col">Cost</th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.agents.map((a) => (
                        <tr key={a.agent?.id}>
                          <th scope="row">
                            {a.agent ? (
                              <a
                                href={`?view=rep&agent=${encodeURIComponent(a.agent.id)}`}
                                onClick={(e) => {
                                  e.preventDefault();
                                  navigate({ view: "rep", agent: a.agent!.id });
                                }}
                              >
                                {a.agent.name}
                              </a>
                            ) : (
                              "n/a"
                            )}
                          </th>
                          <td>{integer(a.metrics.interactions)}</td>
                          <td>
                            {rateOrNotYet(a.metrics.responses.replies, a.metrics.responses.maturingReplies, a.metrics.responses.pendingReplies)}
                          </td>
                          <td>{rateWithInterval(a.metrics.escalations.rate)}</td>
                          <td>
                            {integer(a.metrics.feedback.count)} ratings, mean {percent(a.metrics.feedback.meanScore)}
                          </td>
                          <td>{money(a.metrics.cost.total.total)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </>
              ) : (
                <Empty>The team has no agents.</Empty>
              )}
              <h3>Agent versus people</h3>
              <AgentVersusHuman metrics={d.metrics} title="Team success rate by action type, agent versus people" />
              <CalibrationHealth metrics={d.metrics} caption="Team calibration by action type" />
            </>
          )}
        </QueryResult>
      </section>
      <CoachingPanel team={team} />
      <AlertsPanel team={team} highlight={route.alert} title="Team alerts" />
      <PromptsPanel viewerId={viewer.user?.id ?? null} scope={scope} />
      <LabelQueuePanel title="Team label queue" scope={scope} />
    </>
  );
}
