import { cpus } from "node:os";
import { cnn } from "./cnn";
import { dispatch } from "./dispatch";
import { ingest } from "./ingest";
import { live } from "./live";
import { metrics } from "./metrics";
import { overhead } from "./overhead";
import { printTable, type Row } from "./report";
import { resume } from "./resume";
import { type Stack, startStack } from "./stack";
import { submit } from "./submit";

// In this order: submit runs with no worker (it removes what it queued; a worker would take CPU from it).
const BENCHMARKS: Record<string, (stack: Stack) => Promise<Row[]>> = {
  overhead,
  dispatch,
  submit,
  metrics,
  ingest,
  live,
  resume,
  cnn,
};

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(", ")}; usage: npm run bench [-- ${Object.keys(BENCHMARKS).join("|")} ...]`,
  );
  process.exit(2);
}
const names = Object.keys(BENCHMARKS).filter((name) => asked.length === 0 || asked.includes(name));

console.log(`Plateau benchmarks: ${names.join(", ")} — ${cpus().length} CPUs, Node ${process.version}`);
const stack = await startStack();
let stopping: Promise<void> | undefined;
const stop = (keepLogs = false) => {
  stopping ??= stack.stop({ keepLogs });
  return stopping;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void stop().finally(() => process.exit(130)));
}

const rows: Row[] = [];
try {
  for (const name of names) {
    console.log(`\n${name}`);
    const started = performance.now();
    rows.push(...(await BENCHMARKS[name](stack)));
    console.log(`  ${name} took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  console.log("");
  printTable(rows);
  await stop();
} catch (error) {
  process.exitCode = 1;
  console.error(error);
  console.error(`API and worker logs kept in ${stack.logs}`);
  await stop(true);
}
