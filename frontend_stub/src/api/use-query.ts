// Runs one query for a component and re-runs it when its variables change; a newer request
// aborts the one before, so a slow answer never overwrites a newer one. After a dropped live
// connection comes back, every query on the page is read again (keeping what it shows meanwhile).

import { useEffect, useRef, useState } from "preact/hooks";
import type { TypedDocumentString } from "../gql/graphql";
import { ApiError, execute } from "./client";
import { useReconnects } from "./live";

export type QueryState<T> =
  | { status: "loading" }
  | { status: "error"; error: ApiError }
  | { status: "done"; data: T };

export function useQuery<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  options: { skip?: boolean; /** Changing it runs the query again. */ refresh?: number } = {},
): QueryState<TResult> {
  const [state, setState] = useState<QueryState<TResult>>({ status: "loading" });
  const key = JSON.stringify(variables);
  const refresh = (options.refresh ?? 0) + useReconnects();
  const lastKey = useRef<string | null>(null);
  useEffect(() => {
    if (options.skip) return;
    const controller = new AbortController();
    // the same question asked again (a refresh): keep showing the answer until the new one comes
    const again = lastKey.current === key;
    lastKey.current = key;
    setState((previous) => (previous.status === "done" && again ? previous : { status: "loading" }));
    execute(document, variables, controller.signal).then(
      (data) => setState({ status: "done", data }),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        const failure =
          error instanceof ApiError ? error : new ApiError(String(error), null, null);
        setState({ status: "error", error: failure });
      },
    );
    return () => controller.abort();
  }, [document, key, options.skip, refresh]);
  return state;
}
