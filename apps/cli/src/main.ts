import { ApiError, ApiUnreachableError } from "@plateau/client";
import { CommanderError } from "commander";
import { buildProgram, UsageError } from "./program";

/**
 * `plateau`: the command-line client of the Plateau API (npm run cli -- <command>). It is a user tool,
 * not a service process, so it reads its settings here rather than through @plateau/config:
 * PLATEAU_API_URL (--api overrides it), and PLATEAU_API_KEY / ADMIN_API_KEY (--api-key, --admin-key;
 * for a local API, .stack/api-key and .stack/admin-key in the current directory: see credentials.ts).
 */
const defaultApi = process.env.PLATEAU_API_URL || "http://127.0.0.1:8080";

const interrupt = new AbortController();
process.once("SIGINT", () => interrupt.abort());

const program = buildProgram({
  defaultApi,
  env: process.env,
  cwd: process.cwd(),
  out: process.stdout,
  signal: interrupt.signal,
  setExitCode: (code) => {
    process.exitCode = code;
  },
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (interrupt.signal.aborted) {
    process.stderr.write("\nstopped following; the job keeps running (plateau cancel <id> stops it)\n");
    process.exitCode = 130;
  } else {
    process.stderr.write(`${explain(error, program.opts<{ api: string }>().api).join("\n")}\n`);
    process.exitCode = error instanceof CommanderError ? error.exitCode : 1;
  }
}

/** What went wrong and what to do about it, for a person at a terminal. */
function explain(error: unknown, api: string): string[] {
  if (error instanceof ApiUnreachableError) {
    return [
      `error: ${error.message}`,
      "Is the API running? Start it with `npm run dev`, or point --api / PLATEAU_API_URL at it.",
    ];
  }
  if (error instanceof ApiError) {
    return [
      `error: ${error.message}`,
      ...error.details.map((detail) => `  ${detail.path || "/"}: ${detail.message}`),
    ];
  }
  if (error instanceof UsageError) return [`error: ${error.message}`];
  return [
    `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    `(API: ${api})`,
  ];
}
