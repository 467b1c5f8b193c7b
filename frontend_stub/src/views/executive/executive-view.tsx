// The executive's view: the organisation over the range. First part: the weekly reply-rate
// trend from the API. TODO (issue #15): ROI with its range, agent versus human baseline, teams
// side by side (dot-and-interval), drill-down into a team.

import { graphql } from "../../gql";
import { useQuery } from "../../api/use-query";
import { QueryResult } from "../../components/status";
import { rangeDays, type Route } from "../../router";
import { ReplyTrend } from "../shared/reply-trend";

export const ExecutiveTrendDocument = graphql(`
  query ExecutiveTrend($from: Date, $to: Date) {
    executiveDashboard(from: $from, to: $to) {
      from
      to
      organization {
        name
      }
      weekly {
        day
        actions
        replyOutcomes
        replyRate
        provisional
        maturingReplies
      }
    }
  }
`);

export function ExecutiveView({ route }: { route: Route }) {
  const state = useQuery(ExecutiveTrendDocument, rangeDays(route.range));
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title">Executive overview</h2>
      <QueryResult state={state} what="the organisation's trend" isEmpty={(d) => d.executiveDashboard.weekly.length === 0}>
        {(data) => (
          <>
            <p class="subtitle">
              {data.executiveDashboard.organization?.name ?? "Your organisation"}, {data.executiveDashboard.from} to{" "}
              {data.executiveDashboard.to}
            </p>
            <ReplyTrend points={data.executiveDashboard.weekly} period="week" title="Reply rate by week" />
          </>
        )}
      </QueryResult>
      <p class="todo">TODO (#15): ROI with its range, agent versus human, teams side by side.</p>
    </section>
  );
}
