// The dashboard's build: src/index.html into dist/, content-hashed (so deterministic) file
// names, and the persisted-documents manifest (the server's allow-list) beside it.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import preact from "@preact/preset-vite";
import { defineConfig, type Plugin } from "vite";

const manifest = fileURLToPath(new URL("./src/gql/persisted-documents.json", import.meta.url));

function persistedDocuments(): Plugin {
  return {
    name: "persisted-documents",
    apply: "build",
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "persisted-documents.json", source: readFileSync(manifest, "utf8") });
    },
  };
}

export default defineConfig({
  root: "src",
  base: "/",
  publicDir: false,
  plugins: [preact(), persistedDocuments()],
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    rollupOptions: { input: fileURLToPath(new URL("./src/index.html", import.meta.url)) },
  },
});
