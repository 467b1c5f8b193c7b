// GraphiQL over this service's /graphql (HTTP and graphql-transport-ws), with every file
// bundled here: nothing is loaded from a CDN. Plain TypeScript (no JSX): the rest of the app's
// JSX is Preact's, GraphiQL is React.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import { createElement } from "react";
import { createRoot } from "react-dom/client";

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const fetcher = createGraphiQLFetcher({
  url: "/graphql",
  subscriptionUrl: `${scheme}//${location.host}/graphql`,
});

const root = document.getElementById("graphiql");
if (root) {
  root.textContent = "";
  createRoot(root).render(createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: true }));
}
