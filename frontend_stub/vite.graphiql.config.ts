// GraphiQL, bundled so that it works offline: dist/graphiql/ with stable entry names
// (graphiql.js, graphiql.css) that the server's IDE page (graphql_schema/view.py) loads from
// /graphiql/; the Monaco editor's workers and chunks are content-hashed beside them.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: "src/graphiql",
  base: "/graphiql/",
  publicDir: false,
  worker: { format: "es" },
  build: {
    outDir: "../../dist/graphiql",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 8000,
    rollupOptions: {
      // React libraries mark modules "use client"; that means nothing in a static bundle.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
      input: fileURLToPath(new URL("./src/graphiql/index.html", import.meta.url)),
      output: {
        entryFileNames: "graphiql.js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: (asset) =>
          asset.names.includes("index.css") ? "graphiql.css" : "assets/[name]-[hash][extname]",
      },
    },
  },
});
