// Open feedback prompts (oldest first, the next to expire on top), all the viewer sees or only a
// team's or an agent's as the view's URL says: a person answers the ones asked of them in place, rating the action 1..5 with an optional comment. Prompts asked,
// answered or expired elsewhere (Slack, Gmail) arrive over the `feedbackPrompts` subscription.

import { useState } from "preact/hooks";
import { graphql } from "../../gql";
import { useSubscription } from "../../api/live";
import { useMutation } from "../../api/use-mutation";
import { useQuery } from "../../api/use-query";
import { dateTime, integer, label, percent } from "../../charts/format";
import { MutationStatus, QueryResult } from "../../components/status";
import type { PanelScope } from "./label-queue";

export const OpenPromptsDocument = graphql(`
  query OpenPrompts($team: ID, $agent: ID) {
    feedbackPrompts(state: OPEN, first: 20, teamId: $team, agentId: $agent) {
      totalCount
      edges {
        node {
          id
          reason
          createdAt
          expiresAt
          assignee {
            id
            name
          }
          action {
            id
            actionType
            confidence
            decision
            occurredAt
            agent {
              name
            }
          }
        }
      }
    }
  }
`);

export const PromptChangedDocument = graphql(`
  subscription PromptChanged {
    feedbackPrompts {
      version
      stream
      change
      promptId
    }
  }
`);

export const AnswerPromptDocument = graphql(`
  mutation AnswerPrompt($prompt: ID!, $rating: Int!, $comment: String) {
    answerFeedbackPrompt(input: { promptId: $prompt, rating: $rating, comment: $comment }) {
      prompt {
        id
        state
      }
      errors {
        field
        message
      }
    }
  }
`);

const RATINGS = ["1: wrong call", "2", "3", "4", "5: exactly right"];

function AnswerForm({ prompt, what, onAnswered }: { prompt: string; what: string; onAnswered: (rating: number) => void }) {
  const mutation = useMutation(AnswerPromptDocument);
  const [rating, setRating] = useState<number | null>(null);
  const [comment, setComment] = useState("");
  return (
    <form
      class="answer"
      aria-label={`Answer: ${what}`}
      onSubmit={async (e) => {
        e.preventDefault();
        if (rating == null) return;
        const data = await mutation.run({ prompt, rating, comment: comment || null }, "Answered.");
        if (data?.answerFeedbackPrompt.prompt) onAnswered(rating);
      }}
    >
      <fieldset class="rating">
        <legend>Rating</legend>
        {RATINGS.map((text, i) => (
          <label>
            <input type="radio" name={`rating-${prompt}`} value={i + 1} checked={rating === i + 1} onChange={() => setRating(i + 1)} />{" "}
            {text}
          </label>
        ))}
      </fieldset>
      <label class="inline-field">
        Comment (optional){" "}
        <input type="text" maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={mutation.busy || rating == null}>
        Send answer
      </button>
      <MutationStatus state={mutation} />
    </form>
  );
}

export function PromptsPanel({ viewerId, scope = null }: { viewerId: string | null; scope?: PanelScope | null }) {
  const [tick, setTick] = useState(0);
  const [answered, setAnswered] = useState<Map<string, number>>(new Map());
  const [changes, setChanges] = useState(0);
  const state = useQuery(OpenPromptsDocument, { team: scope?.team ?? null, agent: scope?.agent ?? null }, { refresh: tick });
  useSubscription(
    PromptChangedDocument,
    {},
    () => setChanges((n) => n + 1),
    () => setTick((t) => t + 1),
  );
  return (
    <section aria-labelledby="prompts-title" id="prompts">
      <h2 id="prompts-title">Open prompts</h2>
      {changes ? (
        <p role="status">
          Prompts changed since this list was read.{" "}
          <button
            type="button"
            onClick={() => {
              setChanges(0);
              setTick((t) => t + 1);
            }}
          >
            Refresh the list
          </button>
        </p>
      ) : null}
      <QueryResult
        state={state}
        what="open prompts"
        isEmpty={(d) => d.feedbackPrompts.edges.length === 0}
        empty={scope ? `No open prompts about ${scope.name}: nothing waits for your judgement.` : "No open prompts: nothing waits for your judgement."}
      >
        {(data) => (
          <>
            <p class="subtitle">
              {integer(data.feedbackPrompts.totalCount)} open{scope ? ` about ${scope.name}` : ""}, the next to expire first.
            </p>
            <ul class="cards" aria-label="Open prompts">
              {data.feedbackPrompts.edges.map(({ node: p }) => {
                const what = `${p.action?.agent?.name ?? "the agent"}'s ${label(p.action?.actionType)} of ${dateTime(p.action?.occurredAt)}`;
                const mine = viewerId != null && p.assignee?.id === viewerId;
                return (
                  <li key={p.id} class="card">
                    <p>
                      <strong>{what}</strong>: confidence {percent(p.action?.confidence)}, policy said{" "}
                      {p.action?.decision?.toLowerCase() ?? "n/a"}.
                    </p>
                    <p class="alert-meta">
                      Asked because: {label(p.reason.toLowerCase())}; asked {dateTime(p.createdAt)}, expires{" "}
                      {dateTime(p.expiresAt)}; asks {p.assignee?.name ?? "n/a"}
                    </p>
                    {answered.has(p.id) ? (
                      <p role="status" class="mutation-done">
                        Answered: {answered.get(p.id)} of 5.
                      </p>
                    ) : mine ? (
                      <AnswerForm prompt={p.id} what={what} onAnswered={(r) => setAnswered((m) => new Map(m).set(p.id, r))} />
                    ) : (
                      <p class="alert-meta">Only {p.assignee?.name ?? "the person asked"} can answer it.</p>
                    )}
                  </li>
                );
              })}
            </ul>
          </>
        )}
      </QueryResult>
    </section>
  );
}
