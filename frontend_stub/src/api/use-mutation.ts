// Runs a mutation on a person's request: busy while it runs, then the API's user errors (each
// naming its field) or the failure in words, so the form can say what to fix.

import { useState } from "preact/hooks";
import type { TypedDocumentString } from "../gql/graphql";
import { ApiError, execute } from "./client";

export type UserErrorLike = { message: string; field?: string | null };

export type MutationState = { busy: boolean; error: string | null; done: string | null };

/** The user errors of a payload, wherever the mutation put them. */
function userErrors(data: unknown): UserErrorLike[] {
  if (!data || typeof data !== "object") return [];
  for (const payload of Object.values(data as Record<string, unknown>)) {
    const errors = (payload as { errors?: UserErrorLike[] } | null)?.errors;
    if (errors?.length) return errors;
  }
  return [];
}

export function useMutation<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>) {
  const [state, setState] = useState<MutationState>({ busy: false, error: null, done: null });
  async function run(variables: TVariables, doneMessage: string): Promise<TResult | null> {
    setState({ busy: true, error: null, done: null });
    try {
      const data = await execute(document, variables);
      const errors = userErrors(data);
      if (errors.length) {
        setState({
          busy: false,
          error: errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join(" "),
          done: null,
        });
        return null;
      }
      setState({ busy: false, error: null, done: doneMessage });
      return data;
    } catch (error) {
      setState({ busy: false, error: error instanceof ApiError ? error.message : String(error), done: null });
      return null;
    }
  }
  return { ...state, run };
}
