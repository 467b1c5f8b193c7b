// The operations this app may send, by persisted-document id: the manifest that codegen writes
// (and the build copies to dist/persisted-documents.json, the server's allow-list). The
// generated documents carry only their id; the text is read here when a server needs it.

import manifest from "../gql/persisted-documents.json";

const texts: Record<string, string> = manifest;

export type PersistedDocument = { id: string; text: string; operationName: string | undefined };

export function persistedDocument(document: { __meta__?: Record<string, unknown> }): PersistedDocument {
  const id: unknown = document.__meta__?.hash;
  const text = typeof id === "string" ? texts[id] : undefined;
  if (typeof id !== "string" || !id.startsWith("sha256:") || text === undefined) {
    throw new Error("operation is not in the persisted-documents manifest: run `npm run codegen`");
  }
  // the operation may follow its fragments in the text
  const operationName = /(?:^|\s)(?:query|mutation|subscription)\s+(\w+)/.exec(text)?.[1];
  return { id, text, operationName };
}
