// The outcomes waiting for a person's label in the viewer's scope (or only a team's or an
// agent's, as the view's URL says), oldest first: label each in place with one of its scale's
// levels. New ones arrive over `outcomeNeedsLabel`.

import { useState } from "preact/hooks";
import { graphql } from "../../gql";
import { useSubscription } from "../../api/live";
import { useMutation } from "../../api/use-mutation";
import { useQuery } from "../../api/use-query";
import { dateTime, integer, label, percent } from "../../charts/format";
import { MutationStatus, QueryResult } from "../../components/status";

export const LabelQueueDocument = graphql(`
  query LabelQueue($team: ID, $agent: ID) {
    labelQueue(first: 20, teamId: $team, agentId: $agent) {
      totalCount
      edges {
        node {
          id
          outcomeType
          scaleLevels
          labelReason
          openedAt
          dueAt
          evidence
          action {
            id
            actionType
            confidence
            occurredAt
            agent {
              id
              name
            }
          }
        }
      }
    }
  }
`);

export const OutcomeNeedsLabelDocument = graphql(`
  subscription OutcomeNeedsLabel {
    outcomeNeedsLabel {
      version
      stream
      outcomeId
      outcomeType
      actionType
    }
  }
`);

export const LabelOutcomeDocument = graphql(`
  mutation LabelOutcome($outcome: ID!, $level: String!, $note: String) {
    labelOutcome(input: { outcomeId: $outcome, level: $level, note: $note }) {
      outcome {
        id
        status
        levelLabel
      }
      errors {
        field
        message
      }
    }
  }
`);

type QueueItem = { id: string; outcomeType: string; scaleLevels: string[]; action?: { actionType: string; agent?: { name: string } | null } | null };

function LabelButtons({ item, onLabelled }: { item: QueueItem; onLabelled: (id: string, level: string) => void }) {
  const mutation = useMutation(LabelOutcomeDocument);
  const [note, setNote] = useState("");
  const what = `${label(item.outcomeType)} of ${item.action?.agent?.name ?? "the agent"}'s ${label(item.action?.actionType)}`;
  return (
    <div class="actions" role="group" aria-label={`Label the ${what}`}>
      {item.scaleLevels.map((level) => (
        <button
          type="button"
          disabled={mutation.busy}
          onClick={async () => {
            const data = await mutation.run({ outcome: item.id, level, note: note || null }, `Labelled ${label(level)}.`);
            if (data?.labelOutcome.outcome) onLabelled(item.id, level);
          }}
        >
          {label(level)}
        </button>
      ))}
      <label class="inline-field">
        Note (optional) <input type="text" maxLength={1000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </label>
      <MutationStatus state={mutation} />
    </div>
  );
}

/** Whose queue or prompts a panel lists: one team's agents or one agent (global ids), named for
 * the reader (`team Alpha`, `agent Ada`); none: everything the viewer sees. */
export type PanelScope = { team?: string | null; agent?: string | null; name: string };

export function LabelQueuePanel({ title = "Label queue", scope = null }: { title?: string; scope?: PanelScope | null }) {
  const [tick, setTick] = useState(0);
  const [labelled, setLabelled] = useState<Map<string, string>>(new Map());
  const [arrived, setArrived] = useState(0);
  const state = useQuery(LabelQueueDocument, { team: scope?.team ?? null, agent: scope?.agent ?? null }, { refresh: tick });
  useSubscription(
    OutcomeNeedsLabelDocument,
    {},
    () => setArrived((n) => n + 1),
    () => setTick((t) => t + 1),
  );
  return (
    <section aria-labelledby="labels-title" id="labels">
      <h2 id="labels-title">{title}</h2>
      {arrived ? (
        <p role="status">
          {arrived} new outcome{arrived === 1 ? "" : "s"} to label.{" "}
          <button
            type="button"
            onClick={() => {
              setArrived(0);
              setTick((t) => t + 1);
            }}
          >
            Show them
          </button>
        </p>
      ) : null}
      <QueryResult
        state={state}
        what="the label queue"
        isEmpty={(d) => d.labelQueue.edges.length === 0}
        empty={scope ? `Nothing of ${scope.name} waits for your label.` : "Nothing waits for your label."}
      >
        {(data) => (
          <table>
            <caption>
              Outcomes waiting for a label, oldest first: {integer(data.labelQueue.totalCount)} in all
              {scope ? ` for ${scope.name}` : ""} (the first {data.labelQueue.edges.length} shown)
            </caption>
            <thead>
              <tr>
                <th scope="col">Outcome</th>
                <th scope="col">Agent and action</th>
                <th scope="col">Confidence</th>
                <th scope="col">Why a person decides</th>
                <th scope="col">Opened / due</th>
                <th scope="col">Label</th>
              </tr>
            </thead>
            <tbody>
              {data.labelQueue.edges.map(({ node }) => (
                <tr key={node.id}>
                  <th scope="row">{label(node.outcomeType)}</th>
                  <td>
                    {node.action?.agent?.name ?? "n/a"}: {label(node.action?.actionType)} on {dateTime(node.action?.occurredAt)}
                  </td>
                  <td>{percent(node.action?.confidence)}</td>
                  <td>{node.labelReason ?? "n/a"}</td>
                  <td>
                    {dateTime(node.openedAt)} / {dateTime(node.dueAt)}
                  </td>
                  <td>
                    {labelled.has(node.id) ? (
                      <span role="status">Labelled {label(labelled.get(node.id))}</span>
                    ) : (
                      <LabelButtons item={node} onLabelled={(id, level) => setLabelled((m) => new Map(m).set(id, level))} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryResult>
    </section>
  );
}
