// Live updates: GraphQL subscriptions over WebSocket (graphql-transport-ws) on /graphql,
// authenticated in connection_init. One lazy connection for the whole app; a dropped
// connection is retried (with graphql-ws's backoff) and, once connected again, every listener
// of `onReconnected` re-queries what it may have missed: every query on the page (`useQuery`
// reads `useReconnects`), figures and coaching as well as the live lists.

import { createClient, type Client } from "graphql-ws";
import { useEffect, useState } from "preact/hooks";
import type { TypedDocumentString } from "../gql/graphql";
import { bearerToken } from "./credentials";
import { GRAPHQL_PATH } from "./client";
import { persistedDocument } from "./documents";

export type LiveStatus = "idle" | "connecting" | "live" | "reconnecting";

let client: Client | null = null;
let status: LiveStatus = "idle";
const statusListeners = new Set<(status: LiveStatus) => void>();
const reconnectListeners = new Set<() => void>();

function setStatus(next: LiveStatus): void {
  status = next;
  for (const listener of statusListeners) listener(next);
}

function liveClient(): Client {
  if (client) return client;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let connectedBefore = false;
  client = createClient({
    url: `${scheme}//${location.host}${GRAPHQL_PATH}`,
    lazy: true,
    // keep trying: a laptop that sleeps or a server that restarts comes back on its own
    retryAttempts: Number.MAX_SAFE_INTEGER,
    shouldRetry: () => true,
    connectionParams: () => {
      const token = bearerToken();
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
    on: {
      connecting: () => setStatus(connectedBefore ? "reconnecting" : "connecting"),
      connected: () => {
        setStatus("live");
        if (connectedBefore) for (const listener of reconnectListeners) listener();
        connectedBefore = true;
      },
      closed: (event) => {
        // 1000: closed on purpose (no subscription left); anything else is a drop
        const normal = (event as { code?: number } | undefined)?.code === 1000;
        setStatus(normal ? "idle" : connectedBefore ? "reconnecting" : "connecting");
      },
    },
  });
  return client;
}

export type LiveHandlers<T> = {
  next: (data: T) => void;
  error?: (error: unknown) => void;
};

/** Subscribes; answers the function that unsubscribes. */
export function subscribe<TResult, TVariables extends Record<string, unknown>>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  handlers: LiveHandlers<TResult>,
): () => void {
  const { text, operationName } = persistedDocument(document);
  return liveClient().subscribe<TResult>(
    { query: text, variables, ...(operationName ? { operationName } : {}) },
    {
      next: (message) => {
        if (message.data) handlers.next(message.data);
      },
      error: (error) => handlers.error?.(error),
      complete: () => undefined,
    },
  );
}

/** Calls `listener` each time the connection comes back after a drop; answers the unsubscribe. */
export function onReconnected(listener: () => void): () => void {
  reconnectListeners.add(listener);
  return () => reconnectListeners.delete(listener);
}

/**
 * Subscribes while the component is mounted. `onEvent` gets each event; `onMissed` is called
 * after a reconnection (events may have been missed: re-query).
 */
export function useSubscription<TResult, TVariables extends Record<string, unknown>>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  onEvent: (data: TResult) => void,
  onMissed: () => void,
  options: { skip?: boolean } = {},
): void {
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (options.skip) return;
    const stop = subscribe(document, variables, { next: onEvent });
    const stopReconnect = onReconnected(onMissed);
    return () => {
      stop();
      stopReconnect();
    };
    // the handlers may be new closures each render; they read state through setters
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [document, key, options.skip]);
}

/**
 * Tracks each stream's last version: `seen` answers false when an event skipped versions (one
 * was missed, so the caller re-queries) or is older than what was seen.
 */
export class StreamVersions {
  private last = new Map<string, number>();
  seen(stream: string, version: number): "next" | "gap" | "old" {
    const previous = this.last.get(stream);
    if (previous !== undefined && version <= previous) return "old";
    this.last.set(stream, version);
    return previous === undefined || version === previous + 1 ? "next" : "gap";
  }
}

let reconnects = 0;
onReconnected(() => void (reconnects += 1));

/**
 * How many times the connection came back after a drop; it changes at each reconnection, so a
 * query that depends on it is read again (what changed while the page was cut off).
 */
export function useReconnects(): number {
  const [value, setValue] = useState(reconnects);
  useEffect(() => {
    setValue(reconnects);
    return onReconnected(() => setValue(reconnects));
  }, []);
  return value;
}

/** The connection's state, for the "live" indicator. */
export function useLiveStatus(): LiveStatus {
  const [value, setValue] = useState(status);
  useEffect(() => {
    statusListeners.add(setValue);
    setValue(status);
    return () => void statusListeners.delete(setValue);
  }, []);
  return value;
}
