// The executive's view of the organisation over the range: key figures, ROI with its range and
// its assumptions (editable), teams side by side (click one to open it), agent versus people
// per action type, calibration health across teams, the weekly trend, the strategic
// recommendations with their "what if", and alerts.

import { useCallback, useState } from "preact/hooks";
import { graphql } from "../../gql";
import { useQuery } from "../../api/use-query";
import { dotIntervalChart } from "../../charts/dot-interval";
import { ChartFigure } from "../../charts/figure";
import { decimal, integer, label, noReplyRateYet, percent, rateOrNotYet } from "../../charts/format";
import { QueryResult } from "../../components/status";
import { navigate, rangeDays, type Route } from "../../router";
import type { Viewer } from "../../viewer";
import { AlertsPanel } from "../shared/alerts";
import { AgentVersusHuman, KeyFigures, maturedAndMaturing } from "../shared/metrics";
import { ReplyTrend } from "../shared/reply-trend";
import { RoiAssumptions, RoiTable } from "./roi";
import { StrategyPanel } from "./strategy";

export const ExecutiveDashboardDocument = graphql(`
  query ExecutiveDashboard($from: Date, $to: Date) {
    executiveDashboard(from: $from, to: $to) {
      from
      to
      currency
      organization {
        name
      }
      metrics {
        ...DashboardMetricsFields
        roi {
          ...RoiFields
        }
      }
      teams {
        team {
          id
          name
        }
        metrics {
          interactions
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
          calibration {
            actionType
            verdict
            debiasedError
            maturedOutcomes
            maturingOutcomes
            verdictExpectedBy
          }
        }
      }
      weekly {
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

type Team = {
  team?: { id: string; name: string } | null;
  metrics: {
    responses: { replies: { rate?: number | null; lower?: number | null; upper?: number | null; count: number }; maturingReplies: number; pendingReplies: number };
  };
};

function TeamsSideBySide({ teams }: { teams: Team[] }) {
  const draw = useCallback(
    (width: number) =>
      dotIntervalChart(
        teams.map((t) => ({
          key: t.team?.id ?? "",
          label: t.team?.name ?? "a team",
          value: t.metrics.responses.replies.rate ?? null,
          lower: t.metrics.responses.replies.lower ?? null,
          upper: t.metrics.responses.replies.upper ?? null,
          n: t.metrics.responses.replies.count,
          note: noReplyRateYet(t.metrics.responses),
        })),
        { width, xLabel: "Response rate", format: percent, onSelect: (row) => row.key && navigate({ view: "manager", team: row.key }) },
      ),
    [teams],
  );
  return (
    <ChartFigure
      title="Teams side by side: response rate"
      description="Each team's response rate with its 95 % interval; a team without a decided reply yet says how many are still maturing. Click a team to open it."
      draw={draw}
    />
  );
}

export function ExecutiveView({ route, viewer }: { route: Route; viewer: Viewer }) {
  const [tick, setTick] = useState(0);
  const range = rangeDays(route.range);
  const state = useQuery(ExecutiveDashboardDocument, range, { refresh: tick });
  const canEdit = viewer.role === "EXECUTIVE" || viewer.role === "ADMIN";
  return (
    <>
      <section aria-labelledby="view-title">
        <h2 id="view-title">Organisation</h2>
        <QueryResult state={state} what="the organisation's dashboard">
          {({ executiveDashboard: d }) => {
            const types = [...new Set(d.teams.flatMap((t) => t.metrics.calibration.map((c) => c.actionType)))].sort();
            return (
              <>
                <p class="subtitle">
                  {d.organization?.name ?? "Your organisation"}, {d.from} to {d.to}. Figures in {d.currency}.
                </p>
                <KeyFigures metrics={d.metrics} caption="Key figures of the organisation" />
                <h3 id="roi-title">Return on investment</h3>
                <RoiTable roi={d.metrics.roi} />
                <RoiAssumptions roi={d.metrics.roi} canEdit={canEdit} onSaved={() => setTick((t) => t + 1)} />
                <h3>Teams</h3>
                {d.teams.length ? <TeamsSideBySide teams={d.teams} /> : null}
                <table>
                  <caption>Teams side by side (table)</caption>
                  <thead>
                    <tr>
                      <th scope="col">Team</th>
                      <th scope="col">Actions</th>
                      <th scope="col">Response rate</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.teams.map((t) => (
                      <tr key={t.team?.id}>
                        <th scope="row">
                          <a
                            href={`?view=manager&team=${encodeURIComponent(t.team?.id ?? "")}`}
                            onClick={(e) => {
                              e.preventDefault();
                              navigate({ view: "manager", team: t.team?.id ?? null });
                            }}
                          >
                            {t.team?.name ?? "n/a"}
                          </a>
                        </th>
                        <td>{integer(t.metrics.interactions)}</td>
                        <td>
                          {rateOrNotYet(t.metrics.responses.replies, t.metrics.responses.maturingReplies, t.metrics.responses.pendingReplies)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                <h3>Agent versus people</h3>
                <AgentVersusHuman metrics={d.metrics} title="Success rate by action type, agent versus people" />
                <table>
                  <caption>Calibration health across teams: verdict (debiased error; matured outcomes; still maturing)</caption>
                  <thead>
                    <tr>
                      <th scope="col">Team</th>
                      {types.map((t) => (
                        <th scope="col">{label(t)}</th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {d.teams.map((t) => (
                      <tr key={t.team?.id}>
                        <th scope="row">{t.team?.name ?? "n/a"}</th>
                        {types.map((type) => {
                          const c = t.metrics.calibration.find((x) => x.actionType === type);
                          return c ? (
                            <td class={`verdict verdict-${c.verdict}`}>
                              {label(c.verdict)} ({decimal(c.debiasedError)}; {maturedAndMaturing(c)})
                            </td>
                          ) : (
                            <td>n/a</td>
                          );
                        })}
                      </tr>
                    ))}
                  </tbody>
                </table>
                <ReplyTrend points={d.weekly} period="week" title="Reply rate by week" />
              </>
            );
          }}
        </QueryResult>
      </section>
      <StrategyPanel range={range} />
      <AlertsPanel highlight={route.alert} title="Alerts" />
    </>
  );
}
