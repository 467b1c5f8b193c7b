// GraphQL over HTTP: every operation is sent by its persisted-document id first (the server's
// allow-list holds the manifest built with this app); a server that does not know the id yet
// answers PersistedQueryNotFound and gets the text once (Apollo's protocol), then remembers it.

import type { TypedDocumentString } from "../gql/graphql";
import { bearerToken } from "./credentials";
import { persistedDocument } from "./documents";

export const GRAPHQL_PATH = "/graphql";

/** A failure a person can be told about: `code` is the API's `extensions.code` when it gave one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
    readonly status: number | null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type GraphQLError = { message: string; extensions?: { code?: string; field?: string } };
type GraphQLResponse<T> = { data?: T | null; errors?: GraphQLError[] };

function headers(): Record<string, string> {
  const result: Record<string, string> = {
    "Content-Type": "application/json",
    Accept: "application/graphql-response+json, application/json",
  };
  const token = bearerToken();
  if (token) result.Authorization = `Bearer ${token}`;
  return result;
}

async function post(body: object, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(GRAPHQL_PATH, {
      method: "POST",
      credentials: "same-origin",
      headers: headers(),
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError("The server could not be reached. Check your connection.", "network", null);
  }
}

async function readBody<T>(response: Response): Promise<GraphQLResponse<T> | string> {
  const text = await response.text();
  try {
    return JSON.parse(text) as GraphQLResponse<T>;
  } catch {
    return text;
  }
}

/** The server does not know the hash yet (Apollo's answer: code PERSISTED_QUERY_NOT_FOUND). */
function isPersistedQueryNotFound(response: Response, body: unknown): boolean {
  if (!response.ok || typeof body !== "object" || body === null) return false;
  const errors = (body as { errors?: { extensions?: { code?: string } }[] }).errors ?? [];
  return errors.some((e) => e.extensions?.code === "PERSISTED_QUERY_NOT_FOUND");
}

/** Runs a query or mutation and answers its data, or throws an ApiError. */
export async function execute<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  signal?: AbortSignal,
): Promise<TResult> {
  const { id: documentId, text, operationName } = persistedDocument(document);
  const persistedQuery = { version: 1, sha256Hash: documentId.slice("sha256:".length) };
  const common = { operationName, variables, extensions: { persistedQuery } };

  // The id in both forms: GraphQL over HTTP's `documentId` and Apollo's extension.
  let response = await post({ documentId, ...common }, signal);
  let body = await readBody<TResult>(response);
  if (isPersistedQueryNotFound(response, body)) {
    response = await post({ query: text, ...common }, signal);
    body = await readBody<TResult>(response);
  }
  if (typeof body === "string") {
    const reason = response.status === 403 ? "forbidden" : null;
    throw new ApiError(body.trim() || `The server answered ${response.status}.`, reason, response.status);
  }
  const first = body.errors?.[0];
  if (first) {
    throw new ApiError(first.message, first.extensions?.code ?? null, response.status);
  }
  if (!response.ok || body.data == null) {
    throw new ApiError(`The server answered ${response.status} without data.`, null, response.status);
  }
  return body.data;
}
