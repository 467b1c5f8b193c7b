// Typed operations from the committed SDL, and the persisted-documents manifest that is the
// production allow-list (copied to dist/persisted-documents.json by the Vite build).
import { createHash } from "node:crypto";
import type { CodegenConfig } from "@graphql-codegen/cli";

// Keys are "sha256:<hex>": the GraphQL-over-HTTP persisted documents' documentId form.
const documentId = (document: string): string =>
  `sha256:${createHash("sha256").update(document).digest("hex")}`;

const config: CodegenConfig = {
  schema: "../graphql_schema/schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**"],
  ignoreNoDocuments: false,
  errorsOnly: true,
  generates: {
    "src/gql/": {
      preset: "client",
      config: {
        documentMode: "string",
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { Date: "string", DateTime: "string", JSON: "unknown" },
      },
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { mode: "replaceDocumentWithHash", hashAlgorithm: documentId },
      },
    },
  },
};

export default config;
