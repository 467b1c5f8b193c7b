// A team's coaching opportunities: what was found with its effect and interval, the advice, and
// the manager's decision (mark acted on, or dismiss, with a note).

import { useState } from "preact/hooks";
import { graphql } from "../../gql";
import type { CoachingInsightStatus } from "../../gql/graphql";
import { useMutation } from "../../api/use-mutation";
import { useQuery } from "../../api/use-query";
import { dateTime, decimal, integer, label, points, pValue } from "../../charts/format";
import { MutationStatus, QueryResult } from "../../components/status";

export const CoachingInsightsDocument = graphql(`
  query CoachingInsights($team: ID!, $status: CoachingInsightStatus) {
    coachingInsights(teamId: $team, status: $status, first: 20) {
      totalCount
      edges {
        node {
          ...CoachingInsightFields
        }
      }
    }
  }
`);

export const CoachingInsightFields = graphql(`
  fragment CoachingInsightFields on CoachingInsight {
    id
    outcomeType
    feature
    featureValue
    direction
    audience
    statement
    advice
    status
    periodStart
    periodEnd
    expiresAt
    effect {
      measure
      rate
      baselineRate
      difference
      interval {
        low
        high
        confidenceLevel
      }
      qValue
    }
    evidence {
      n
      support
    }
    decision {
      decision
      decidedAt
      note
      decidedBy {
        name
      }
    }
    followUp {
      n
      difference
      interval {
        low
        high
      }
      periodEnd
    }
  }
`);

export const DecideCoachingInsightDocument = graphql(`
  mutation DecideCoachingInsight($id: ID!, $decision: CoachingDecision!, $note: String) {
    decideCoachingInsight(input: { id: $id, decision: $decision, note: $note }) {
      insight {
        ...CoachingInsightFields
      }
      errors {
        field
        message
      }
    }
  }
`);

function Decide({ id, statement, onDecided }: { id: string; statement: string; onDecided: (message: string) => void }) {
  const mutation = useMutation(DecideCoachingInsightDocument);
  const [note, setNote] = useState("");
  const decide = async (decision: "ACTED_ON" | "DISMISSED") => {
    const data = await mutation.run(
      { id, decision, note: note || null },
      decision === "ACTED_ON" ? "Marked as acted on." : "Dismissed.",
    );
    if (data?.decideCoachingInsight.insight) {
      onDecided(`${decision === "ACTED_ON" ? "Marked as acted on" : "Dismissed"}: ${statement}`);
    }
  };
  return (
    <div class="actions" role="group" aria-label={`Decide: ${statement}`}>
      <label class="inline-field">
        Note (optional) <input type="text" maxLength={1000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </label>
      <button type="button" disabled={mutation.busy} onClick={() => decide("ACTED_ON")}>
        Mark acted on
      </button>
      <button type="button" class="secondary" disabled={mutation.busy} onClick={() => decide("DISMISSED")}>
        Dismiss
      </button>
      <MutationStatus state={mutation} />
    </div>
  );
}

export function CoachingPanel({ team }: { team: string }) {
  const [status, setStatus] = useState<CoachingInsightStatus | "">("NEW");
  const [tick, setTick] = useState(0);
  const [decided, setDecided] = useState("");
  const state = useQuery(CoachingInsightsDocument, { team, status: status || null }, { refresh: tick });
  return (
    <section aria-labelledby="coaching-title" id="coaching">
      <h2 id="coaching-title">Coaching opportunities</h2>
      <label class="inline-field">
        Show{" "}
        <select value={status} onChange={(e) => setStatus(e.currentTarget.value as CoachingInsightStatus | "")}>
          <option value="NEW">waiting for a decision</option>
          <option value="ACTED_ON">acted on</option>
          <option value="DISMISSED">dismissed</option>
          <option value="EXPIRED">expired</option>
          <option value="">all</option>
        </select>
      </label>
      <p role="status" class="mutation-done">
        {decided}
      </p>
      <QueryResult
        state={state}
        what="coaching opportunities"
        isEmpty={(d) => d.coachingInsights.edges.length === 0}
        empty="No coaching opportunities in this state."
      >
        {(data) => (
          <ul class="cards" aria-label="Coaching opportunities">
            {data.coachingInsights.edges.map(({ node: i }) => (
              <li key={i.id} class="card">
                <p>
                  <span class="badge">{i.status.toLowerCase().replace("_", " ")}</span>{" "}
                  <span class="badge">for {i.audience.toLowerCase()}s</span> <strong>{i.statement}</strong>
                </p>
                <p>{i.advice}</p>
                <p class="alert-meta">
                  {label(i.outcomeType)}, {label(i.feature)} = {label(i.featureValue)}: {decimal(i.effect.rate, 2)} against{" "}
                  {decimal(i.effect.baselineRate, 2)}, difference {points(i.effect.difference)} (
                  {Math.round(i.effect.interval.confidenceLevel * 100)} % CI {points(i.effect.interval.low)} to{" "}
                  {points(i.effect.interval.high)}), q = {pValue(i.effect.qValue)}; {integer(i.evidence.support)} of{" "}
                  {integer(i.evidence.n)} actions; {i.periodStart} to {i.periodEnd}
                </p>
                {i.decision ? (
                  <p class="alert-meta">
                    {i.decision.decision === "ACTED_ON" ? "Acted on" : "Dismissed"} {dateTime(i.decision.decidedAt)} by{" "}
                    {i.decision.decidedBy?.name ?? "the service"}
                    {i.decision.note ? `: ${i.decision.note}` : ""}
                  </p>
                ) : null}
                {i.followUp ? (
                  <p class="alert-meta">
                    After acting: {points(i.followUp.difference)} (95 % CI {points(i.followUp.interval.low)} to{" "}
                    {points(i.followUp.interval.high)}; n = {integer(i.followUp.n)}, to {i.followUp.periodEnd})
                  </p>
                ) : null}
                {i.status === "NEW" ? <Decide id={i.id} statement={i.statement} onDecided={(message) => {
                      setDecided(message);
                      setTick((t) => t + 1);
                    }}
                  /> : null}
              </li>
            ))}
          </ul>
        )}
      </QueryResult>
    </section>
  );
}
