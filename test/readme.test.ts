import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configTable } from "../scripts/config-table";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("documents every setting of libs/config, with its default (regenerate: npx tsx scripts/config-table.ts)", () => {
    const start = readme.indexOf("<!-- config-table:start -->");
    const end = readme.indexOf("<!-- config-table:end -->");
    expect(start).toBeGreaterThan(-1);
    expect(readme.slice(start, end).split("\n").slice(1).join("\n").trim()).toBe(configTable());
  });

  it("gives the two set-up commands", () => {
    expect(readme).toContain("npm ci && npm run dev");
    expect(readme).toContain("npm ci && npm test");
  });
});
