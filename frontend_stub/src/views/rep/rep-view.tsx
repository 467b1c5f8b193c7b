// The rep's view: their own agent over the range. First part: the daily reply-rate trend from
// the API. TODO (issue #15): metrics with intervals, calibration of the agent, label queue,
// feedback prompts (live).

import { graphql } from "../../gql";
import { useQuery } from "../../api/use-query";
import { Empty, QueryResult } from "../../components/status";
import { rangeDays, type Route } from "../../router";
import type { Viewer } from "../../viewer";
import { ReplyTrend } from "../shared/reply-trend";

export const RepTrendDocument = graphql(`
  query RepTrend($agent: ID!, $from: Date, $to: Date) {
    repDashboard(agentId: $agent, from: $from, to: $to) {
      from
      to
      agent {
        name
      }
      daily {
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

export function RepView({ route, viewer }: { route: Route; viewer: Viewer }) {
  const agent = route.agent ?? viewer.agents[0]?.id ?? null;
  const state = useQuery(RepTrendDocument, { agent: agent ?? "", ...rangeDays(route.range) }, { skip: !agent });
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title">My agent</h2>
      {agent ? (
        <QueryResult state={state} what="your agent's trend" isEmpty={(d) => d.repDashboard.daily.length === 0}>
          {(data) => (
            <>
              <p class="subtitle">
                {data.repDashboard.agent?.name ?? "Your agent"}, {data.repDashboard.from} to {data.repDashboard.to}
              </p>
              <ReplyTrend points={data.repDashboard.daily} period="day" title="Reply rate by day" />
            </>
          )}
        </QueryResult>
      ) : (
        <Empty>You have no agent yet, so there is nothing to show.</Empty>
      )}
      <p class="todo">TODO (#15): metrics with intervals, calibration, label queue, feedback prompts.</p>
    </section>
  );
}
