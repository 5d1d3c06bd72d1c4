import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { defineConfig } from "tsup";

/**
 * `npm run build`: one ESM bundle per program in dist/ (api.js, worker.js, cli.js, migrate.js), run with
 * plain `node` from an image that holds dist/, prisma/, package.json and production node_modules only.
 * The workspace packages (@plateau/*) are TypeScript sources and are bundled; everything from npm stays
 * in node_modules, so native and optional packages (tfjs-node-gpu) load as installed.
 */
export default defineConfig((options) => {
  const outDir = options.outDir ?? "dist";
  return {
    entry: {
      api: "apps/api/src/main.ts",
      // The thread the API builds models on (apps/api/src/model-check.ts finds it beside api.js).
      "model-check-thread": "apps/api/src/model-check-thread.ts",
      worker: "apps/worker/src/main.ts",
      // The process a worker forks per job (apps/worker/src/trainer/process.ts finds it beside worker.js).
      trainer: "apps/worker/src/trainer/main.ts",
      cli: "apps/cli/src/main.ts",
      migrate: "libs/db/src/migrate-cli.ts",
    },
    outDir,
    format: ["esm"],
    platform: "node",
    target: "node20",
    sourcemap: true,
    clean: true,
    noExternal: [/^@plateau\//],
    // Any bare specifier that is not a workspace package: node_modules and node: builtins.
    external: [/^(?!@plateau\/|\.|\/)/],
    onSuccess: () => copyWorkspaceAssets(outDir),
  };
});

/**
 * Files a workspace package exports that are not code (e.g. `@plateau/training/datasets/*`, the builtin
 * iris CSV) are resolved through the package's name at run time, which esbuild cannot see. The images
 * have no libs/, so each such package gets a copy of those files, with a package.json exporting only
 * them, in <outDir>/node_modules: Node looks there first when resolving from a bundle in <outDir>.
 */
async function copyWorkspaceAssets(outDir: string): Promise<void> {
  for (const root of ["libs", "apps"]) {
    for (const entry of await readdir(root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(root, entry.name);
      const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8").catch(() => "{}"));
      const assets = Object.entries<string>(manifest.exports ?? {}).filter(
        ([, target]) => typeof target === "string" && !/\.[cm]?tsx?$/.test(target),
      );
      if (assets.length === 0) continue;
      const target = join(outDir, "node_modules", manifest.name);
      for (const [, path] of assets) {
        // "./datasets/*" copies the folder.
        const from = path.includes("*") ? dirname(path.slice(0, path.indexOf("*") + 1)) : path;
        await cp(join(dir, from), join(target, from), { recursive: true });
      }
      const exports = Object.fromEntries(assets);
      await writeFile(
        join(target, "package.json"),
        `${JSON.stringify({ name: manifest.name, private: true, type: manifest.type, exports }, null, 2)}\n`,
      );
    }
  }
}
