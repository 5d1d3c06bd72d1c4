import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

// Module boundaries (docs/architecture.md) held by the bundler that follows every import the way
// Node does, through the workspace packages' exports: a comment cannot keep tfjs out of the API.
const root = fileURLToPath(new URL("..", import.meta.url));

/** Every module that imports `matching`, following static and dynamic imports from `entry`. */
async function importersOf(entry: string, matching: RegExp, options: { stopAt?: RegExp } = {}) {
  const importers: string[] = [];
  const watch: Plugin = {
    name: "watch",
    setup(bundle) {
      bundle.onResolve({ filter: matching }, (args) => {
        importers.push(`${args.importer.replace(root, "")} → ${args.path}`);
        return { path: args.path, external: true };
      });
      if (options.stopAt) {
        bundle.onResolve({ filter: options.stopAt }, (args) => ({ path: args.path, external: true }));
      }
      // npm packages are not ours to police; the workspace's own code is followed.
      bundle.onResolve({ filter: /^[^./]/ }, (args) =>
        args.path.startsWith("@plateau/") ? undefined : { path: args.path, external: true },
      );
    },
  };
  await build({
    entryPoints: [`${root}${entry}`],
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    logLevel: "silent",
    plugins: [watch],
  });
  return importers;
}

describe("module boundaries", () => {
  it("the API reaches tfjs only through its model-check entry", async () => {
    const importers = await importersOf("apps/api/src/main.ts", /^@tensorflow\//, { stopAt: /model-check$/ });
    expect(importers).toEqual([]);
  });

  it("the model-check entry is what reaches tfjs (so the check above can fail)", async () => {
    const importers = await importersOf("apps/api/src/model-check.ts", /^@tensorflow\//);
    expect(importers.length).toBeGreaterThan(0);
  });

  it("libs/contract imports no workspace package, no node: module and nothing but typebox", async () => {
    const importers = await importersOf("libs/contract/src/index.ts", /^[^./]/);
    expect(importers.filter((line) => !/ → typebox(\/[a-z]+)?$/.test(line))).toEqual([]);
  });
});
