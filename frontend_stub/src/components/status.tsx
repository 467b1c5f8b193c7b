// What a person sees while data loads, when there is none, and when something went wrong:
// each says what is happening in words, and is announced to screen readers.

import type { ComponentChildren } from "preact";
import type { ApiError } from "../api/client";
import type { QueryState } from "../api/use-query";

export function Loading({ what }: { what: string }) {
  return (
    <p class="status status-loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <p class="status status-empty" role="status">
      {children}
    </p>
  );
}

const ADVICE: Record<string, string> = {
  unauthenticated:
    "You are not signed in. Open the dashboard from your sign-in link, or add #token=<your token> to the address.",
  forbidden: "Your role may not see this. Pick another view, or ask an administrator.",
  not_found: "Nothing here for you: it does not exist, or it is outside what you may see.",
  invalid: "The filters in the address are not valid. Reset them and try again.",
  rate_limited: "Too many requests just now. Wait a few seconds and reload.",
  cost_exceeded: "This view asked for too much at once. Narrow the range and try again.",
  network: "The server could not be reached. Check your connection and reload.",
};

export function ErrorNotice({ error, what }: { error: ApiError; what: string }) {
  const advice = (error.code && ADVICE[error.code]) || null;
  return (
    <div class="status status-error" role="alert">
      <p>
        <strong>Could not load {what}.</strong> {advice ?? error.message}
      </p>
      {advice && error.code !== "network" ? <p class="detail">The server said: {error.message}</p> : null}
    </div>
  );
}

/** Draws a query's loading, error, empty or done state. */
export function QueryResult<T>({
  state,
  what,
  isEmpty,
  empty,
  children,
}: {
  state: QueryState<T>;
  what: string;
  isEmpty?: (data: T) => boolean;
  empty?: ComponentChildren;
  children: (data: T) => ComponentChildren;
}) {
  if (state.status === "loading") return <Loading what={what} />;
  if (state.status === "error") return <ErrorNotice error={state.error} what={what} />;
  if (isEmpty?.(state.data)) return <Empty>{empty ?? `No ${what} for these filters.`}</Empty>;
  return <>{children(state.data)}</>;
}

/** The outcome of a person's action (a mutation): what went wrong, or that it was done. */
export function MutationStatus({ state }: { state: { busy: boolean; error: string | null; done: string | null } }) {
  if (state.busy) return <span class="mutation-status" role="status">Saving…</span>;
  if (state.error) return <span class="mutation-status mutation-error" role="alert">{state.error}</span>;
  if (state.done) return <span class="mutation-status mutation-done" role="status">{state.done}</span>;
  return null;
}
