import { defineConfig } from "tsup";

/**
 * `npm run build`: one ESM bundle per program in dist/ (dist/api.js, dist/worker.js, dist/cli.js), run
 * with plain `node` in the containers. The workspace packages (@plateau/*) are TypeScript sources and
 * are bundled; everything from npm stays in node_modules, so native and optional packages
 * (tfjs-node-gpu) load as installed.
 */
export default defineConfig({
  entry: { api: "apps/api/src/main.ts", worker: "apps/worker/src/main.ts", cli: "apps/cli/src/main.ts" },
  outDir: "dist",
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  noExternal: [/^@plateau\//],
  // Any bare specifier that is not a workspace package: node_modules and node: builtins.
  external: [/^(?!@plateau\/|\.|\/)/],
});
