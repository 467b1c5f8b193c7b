// Live updates: GraphQL subscriptions over WebSocket (graphql-transport-ws) on /graphql,
// authenticated in connection_init. One lazy connection for the whole app.

import { createClient, type Client } from "graphql-ws";
import type { TypedDocumentString } from "../gql/graphql";
import { bearerToken } from "./credentials";
import { GRAPHQL_PATH } from "./client";
import { persistedDocument } from "./documents";

let client: Client | null = null;

function liveClient(): Client {
  if (client) return client;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  client = createClient({
    url: `${scheme}//${location.host}${GRAPHQL_PATH}`,
    lazy: true,
    retryAttempts: 5,
    connectionParams: () => {
      const token = bearerToken();
      return token ? { Authorization: `Bearer ${token}` } : {};
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
