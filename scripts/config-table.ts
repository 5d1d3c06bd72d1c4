// Prints the README's configuration table from libs/config, so the two cannot drift
// (test/readme.test.ts fails when README.md differs from this output).
import { describeSettings } from "@plateau/config";

export function configTable(): string {
  const rows = describeSettings().map(
    (s) => `| \`${s.key}\` | \`${s.default === "" ? '""' : String(s.default)}\` | ${s.description} |`,
  );
  return ["| Variable | Default | Meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(configTable());
