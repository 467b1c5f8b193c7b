// The review queue: threads given to the viewer (a manager: also their teams') to review, oldest
// first; opening one shows the thread (its agent, deal, its messages in order, 50 at a time, with
// the agent's confidence, decision and outcomes beside each of its own, the reviews the viewer may see and
// their agreement) and a form to rate it 1..5 overall and per criterion, with a
// comment, or to set it aside.

import { useState } from "preact/hooks";
import { graphql } from "../../gql";
import type { ReviewStatus, ThreadMessagesPageFragment } from "../../gql/graphql";
import { execute } from "../../api/client";
import { useMutation } from "../../api/use-mutation";
import { useQuery } from "../../api/use-query";
import { dateTime, decimal, integer, label, percent } from "../../charts/format";
import { MutationStatus, QueryResult } from "../../components/status";
import { navigate, type Route } from "../../router";
import type { Viewer } from "../../viewer";

export const ReviewQueueDocument = graphql(`
  query ReviewQueue($status: ReviewStatus!) {
    reviewQueue(status: $status, first: 50) {
      totalCount
      edges {
        node {
          reason
          status
          createdAt
          completedAt
          reviewer {
            id
            name
          }
          thread {
            id
            subject
            messageCount
            dealStatus
            agent {
              name
            }
          }
        }
      }
    }
  }
`);

export const ThreadMessagesPageFields = graphql(`
  fragment ThreadMessagesPage on ThreadMessageConnection {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        direction
        subject
        bodyPreview
        sentAt
        action {
          id
          actionType
          confidence
          calibratedConfidence
          decision
          outcomes {
            id
            outcomeType
            status
            levelLabel
          }
        }
      }
    }
  }
`);

export const ThreadDocument = graphql(`
  query Thread($id: ID!, $first: Int!) {
    node(id: $id) {
      ... on Thread {
        id
        subject
        channel
        createdAt
        messageCount
        dealStatus
        dealClosedAt
        externalThreadId
        agent {
          id
          name
          owner {
            name
          }
        }
        reviews {
          id
          rating
          criteria
          comment
          createdAt
          author {
            id
            name
          }
        }
        agreement {
          pairs
          meanAbsoluteDifference
          exactAgreement
        }
        messagesConnection(first: $first) {
          ...ThreadMessagesPage
        }
      }
    }
  }
`);

/** The thread's messages after the ones shown: the next page. */
export const ThreadMoreMessagesDocument = graphql(`
  query ThreadMoreMessages($id: ID!, $first: Int!, $after: String!) {
    node(id: $id) {
      ... on Thread {
        id
        messagesConnection(first: $first, after: $after) {
          ...ThreadMessagesPage
        }
      }
    }
  }
`);

/** Messages read at a time: most threads whole, a long one page by page. */
const MESSAGE_PAGE = 50;

export const SubmitThreadReviewDocument = graphql(`
  mutation SubmitThreadReview(
    $thread: ID!
    $rating: Int!
    $tone: Int
    $accuracy: Int
    $timing: Int
    $nextStep: Int
    $comment: String
  ) {
    submitThreadReview(
      input: { threadId: $thread, rating: $rating, tone: $tone, accuracy: $accuracy, timing: $timing, nextStep: $nextStep, comment: $comment }
    ) {
      created
      review {
        id
        rating
      }
      errors {
        field
        message
      }
    }
  }
`);

export const SkipThreadReviewDocument = graphql(`
  mutation SkipThreadReview($thread: ID!) {
    skipThreadReview(input: { threadId: $thread }) {
      assignment {
        status
      }
      errors {
        field
        message
      }
    }
  }
`);

export const AssignMeThreadsDocument = graphql(`
  mutation AssignMeThreads($reviewer: ID!) {
    assignThreadReviews(input: { reviewerId: $reviewer, limit: 5 }) {
      assignments {
        status
      }
      errors {
        field
        message
      }
    }
  }
`);

const CRITERIA = [
  ["tone", "Tone"],
  ["accuracy", "Accuracy"],
  ["timing", "Timing"],
  ["nextStep", "Choice of next step"],
] as const;

type Criterion = (typeof CRITERIA)[number][0];

function ReviewForm({ thread, onDone }: { thread: string; onDone: () => void }) {
  const submit = useMutation(SubmitThreadReviewDocument);
  const skip = useMutation(SkipThreadReviewDocument);
  const [rating, setRating] = useState<number | null>(null);
  const [criteria, setCriteria] = useState<Record<Criterion, number | null>>({ tone: null, accuracy: null, timing: null, nextStep: null });
  const [comment, setComment] = useState("");
  return (
    <form
      class="answer"
      aria-label="Review this thread"
      onSubmit={async (e) => {
        e.preventDefault();
        if (rating == null) return;
        const data = await submit.run({ thread, rating, ...criteria, comment: comment || null }, "Review saved.");
        if (data?.submitThreadReview.review) onDone();
      }}
    >
      <fieldset class="rating">
        <legend>Overall rating (required)</legend>
        {[1, 2, 3, 4, 5].map((r) => (
          <label>
            <input type="radio" name="overall" checked={rating === r} onChange={() => setRating(r)} /> {r}
            {r === 1 ? " (worst)" : r === 5 ? " (best)" : ""}
          </label>
        ))}
      </fieldset>
      <div class="actions">
        {CRITERIA.map(([name, text]) => (
          <label class="inline-field">
            {text}{" "}
            <select
              value={criteria[name] ?? ""}
              onChange={(e) => setCriteria({ ...criteria, [name]: e.currentTarget.value ? Number(e.currentTarget.value) : null })}
            >
              <option value="">not rated</option>
              {[1, 2, 3, 4, 5].map((r) => (
                <option value={r}>{r}</option>
              ))}
            </select>
          </label>
        ))}
      </div>
      <label class="inline-field">
        Comment (optional) <textarea rows={2} cols={50} maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      <div class="actions">
        <button type="submit" disabled={submit.busy || rating == null}>
          Submit review
        </button>
        <button
          type="button"
          class="secondary"
          disabled={skip.busy}
          onClick={async () => {
            const data = await skip.run({ thread }, "Set aside.");
            if (data?.skipThreadReview.assignment) onDone();
          }}
        >
          Set aside
        </button>
        <MutationStatus state={submit} />
        <MutationStatus state={skip} />
      </div>
    </form>
  );
}

type MessagesPage = ThreadMessagesPageFragment;
type Message = MessagesPage["edges"][number]["node"];

function outcomeText(o: { outcomeType: string; status: string; levelLabel?: string | null }): string {
  return `${label(o.outcomeType)}: ${o.levelLabel ? label(o.levelLabel) : label(o.status.toLowerCase())}`;
}

/** The thread's messages, oldest first, a page at a time; beside each of the agent's, what it
 * stated and what came of it. "Show more messages" reads the next page and adds it below. */
function ThreadMessages({ thread, first }: { thread: string; first: MessagesPage }) {
  const [later, setLater] = useState<Message[]>([]);
  const [page, setPage] = useState(first.pageInfo);
  const [reading, setReading] = useState<"idle" | "busy" | "failed">("idle");
  const messages = [...first.edges.map((e) => e.node), ...later];
  const total = first.totalCount ?? messages.length;
  const more = async () => {
    if (!page.endCursor) return;
    setReading("busy");
    try {
      const data = await execute(ThreadMoreMessagesDocument, { id: thread, first: MESSAGE_PAGE, after: page.endCursor });
      const next = data.node && "messagesConnection" in data.node ? data.node.messagesConnection : null;
      if (!next) throw new Error("the thread is gone");
      setLater((shown) => [...shown, ...next.edges.map((e) => e.node)]);
      setPage(next.pageInfo);
      setReading("idle");
    } catch {
      setReading("failed");
    }
  };
  if (messages.length === 0) return <p class="status">This thread has no messages yet.</p>;
  return (
    <>
      <h3 id="messages-title">Messages, oldest first</h3>
      {page.hasNextPage ? (
        <p class="note">
          The first {integer(messages.length)} of {integer(total)} messages.
        </p>
      ) : null}
      <ol class="messages" aria-labelledby="messages-title">
        {messages.map((m, i) => {
          const ours = m.direction === "OUTBOUND";
          const a = m.action;
          return (
            <li class={`message ${ours ? "message-agent" : "message-contact"}`} key={i}>
              <div class="message-text">
                <p class="alert-meta">
                  <span class="badge">{ours ? "agent" : "contact"}</span>
                  {dateTime(m.sentAt)}
                </p>
                <p>
                  <strong>{m.subject ?? "(no subject)"}</strong>
                </p>
                <p class="message-body">{m.bodyPreview ?? ""}</p>
              </div>
              {ours ? (
                a ? (
                  <dl class="message-action" aria-label={`The agent's ${label(a.actionType)} behind message ${i + 1}`}>
                    <dt>Confidence</dt>
                    <dd>
                      {percent(a.confidence)} (calibrated {percent(a.calibratedConfidence)})
                    </dd>
                    <dt>Policy said</dt>
                    <dd>{a.decision ? label(a.decision.toLowerCase()) : "n/a"}</dd>
                    <dt>Outcomes</dt>
                    <dd>{a.outcomes.length ? a.outcomes.map(outcomeText).join("; ") : "none yet"}</dd>
                  </dl>
                ) : (
                  <p class="note message-action">The agent's numbers for this message are outside what you may see.</p>
                )
              ) : null}
            </li>
          );
        })}
      </ol>
      {page.hasNextPage ? (
        <div class="actions">
          <button type="button" class="secondary" disabled={reading === "busy"} onClick={more}>
            Show more messages ({integer(Math.min(MESSAGE_PAGE, total - messages.length))} of the{" "}
            {integer(total - messages.length)} after these)
          </button>
          {reading === "failed" ? (
            <span role="alert" class="mutation-status mutation-error">
              The next messages could not be read; try again.
            </span>
          ) : null}
        </div>
      ) : null}
    </>
  );
}

function ThreadView({ id, viewer }: { id: string; viewer: Viewer }) {
  const [tick, setTick] = useState(0);
  const state = useQuery(ThreadDocument, { id, first: MESSAGE_PAGE }, { refresh: tick });
  return (
    <section aria-labelledby="thread-title" id="thread">
      <QueryResult state={state} what="the thread">
        {({ node }) => {
          if (!node || !("id" in node)) return <p class="status">This thread does not exist or is outside what you may see.</p>;
          const t = node;
          const mine = t.reviews.find((r) => r.author?.id === viewer.user?.id);
          return (
            <>
              <h2 id="thread-title">Thread: {t.subject ?? "(no subject)"}</h2>
              <p>
                <button type="button" class="secondary" onClick={() => navigate({ thread: null })}>
                  Back to the queue
                </button>
              </p>
              <table>
                <caption>The thread</caption>
                <tbody>
                  <tr>
                    <th scope="row">Agent</th>
                    <td>
                      {t.agent.name}
                      {t.agent.owner ? ` (owned by ${t.agent.owner.name})` : ""}
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">Started</th>
                    <td>
                      {dateTime(t.createdAt)} on {t.channel}
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">Messages</th>
                    <td>{integer(t.messageCount)}</td>
                  </tr>
                  <tr>
                    <th scope="row">Deal</th>
                    <td>
                      {t.dealStatus ? label(t.dealStatus.toLowerCase()) : "no deal"}
                      {t.dealClosedAt ? `, closed ${dateTime(t.dealClosedAt)}` : ""}
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">Agreement of reviews</th>
                    <td>
                      {t.agreement
                        ? `${integer(t.agreement.pairs)} pairs; mean difference ${decimal(t.agreement.meanAbsoluteDifference, 2)}; exact agreement ${percent(t.agreement.exactAgreement)}`
                        : "fewer than two reviews"}
                    </td>
                  </tr>
                </tbody>
              </table>
              <ThreadMessages key={`${t.id}:${tick}`} thread={t.id} first={t.messagesConnection} />
              {t.reviews.length ? (
                <table>
                  <caption>Reviews you may see, oldest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">By</th>
                      <th scope="col">When</th>
                      <th scope="col">Overall</th>
                      <th scope="col">Criteria</th>
                      <th scope="col">Comment</th>
                    </tr>
                  </thead>
                  <tbody>
                    {t.reviews.map((r) => (
                      <tr>
                        <th scope="row">{r.author?.id === viewer.user?.id ? "you" : (r.author?.name ?? "n/a")}</th>
                        <td>{dateTime(r.createdAt)}</td>
                        <td>{r.rating} of 5</td>
                        <td>
                          {Object.entries((r.criteria ?? {}) as Record<string, number>)
                            .map(([k, v]) => `${label(k)} ${v}`)
                            .join(", ") || "none"}
                        </td>
                        <td>{r.comment ?? ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : null}
              <h3>{mine ? "Change your review" : "Your review"}</h3>
              <ReviewForm thread={t.id} onDone={() => setTick((n) => n + 1)} />
            </>
          );
        }}
      </QueryResult>
    </section>
  );
}

export function ReviewsView({ route, viewer }: { route: Route; viewer: Viewer }) {
  const [status, setStatus] = useState<ReviewStatus>("ASSIGNED");
  const [tick, setTick] = useState(0);
  const state = useQuery(ReviewQueueDocument, { status }, { refresh: tick });
  const assign = useMutation(AssignMeThreadsDocument);
  if (route.thread) return <ThreadView id={route.thread} viewer={viewer} />;
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title">Review queue</h2>
      <div class="actions">
        <label class="inline-field">
          Show{" "}
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value as ReviewStatus)}>
            <option value="ASSIGNED">to review</option>
            <option value="DONE">reviewed</option>
            <option value="SKIPPED">set aside</option>
          </select>
        </label>
        {viewer.role !== "REP" && viewer.user ? (
          <>
            <button
              type="button"
              class="secondary"
              disabled={assign.busy}
              onClick={async () => {
                const data = await assign.run({ reviewer: viewer.user!.id }, "Threads worth reviewing were given to you.");
                if (data) setTick((t) => t + 1);
              }}
            >
              Give me threads to review
            </button>
            <MutationStatus state={assign} />
          </>
        ) : null}
      </div>
      <QueryResult
        state={state}
        what="the review queue"
        isEmpty={(d) => d.reviewQueue.edges.length === 0}
        empty="No threads in this state."
      >
        {(data) => (
          <table>
            <caption>
              Review assignments, oldest first: {integer(data.reviewQueue.totalCount)}
            </caption>
            <thead>
              <tr>
                <th scope="col">Thread</th>
                <th scope="col">Agent</th>
                <th scope="col">Why</th>
                <th scope="col">Messages</th>
                <th scope="col">Deal</th>
                <th scope="col">Reviewer</th>
                <th scope="col">Assigned</th>
              </tr>
            </thead>
            <tbody>
              {data.reviewQueue.edges.map(({ node: a }) => (
                <tr>
                  <th scope="row">
                    {a.thread ? (
                      <a
                        href={`?view=reviews&thread=${encodeURIComponent(a.thread.id)}`}
                        onClick={(e) => {
                          e.preventDefault();
                          navigate({ view: "reviews", thread: a.thread!.id });
                        }}
                      >
                        {a.thread.subject ?? "(no subject)"}
                      </a>
                    ) : (
                      "n/a"
                    )}
                  </th>
                  <td>{a.thread?.agent.name ?? "n/a"}</td>
                  <td>{label(a.reason.toLowerCase())}</td>
                  <td>{integer(a.thread?.messageCount)}</td>
                  <td>{a.thread?.dealStatus ? label(a.thread.dealStatus.toLowerCase()) : "no deal"}</td>
                  <td>{a.reviewer?.id === viewer.user?.id ? "you" : (a.reviewer?.name ?? "n/a")}</td>
                  <td>{dateTime(a.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryResult>
    </section>
  );
}
