// npm run dev's log view: reads the API's and the worker's pino lines (JSON, as `tail -F` prints them,
// with its "==> file <==" headers) on stdin and prints one short line each: a request as
// "12:00:01 api    GET /v1/jobs/… 200 3 ms" once it completes, anything else as its level, message and
// a few fields. Lines that are not JSON pass through. Colors only on a terminal.
import { createInterface } from "node:readline";

const COLORS = { red: 31, green: 32, yellow: 33, cyan: 36, gray: 90 } as const;
type Color = keyof typeof COLORS;

/** Fields every line has, or that the short form already shows. */
const HIDDEN = new Set([
  "level",
  "time",
  "pid",
  "hostname",
  "msg",
  "service",
  "worker",
  "reqId",
  "req",
  "res",
  "responseTime",
]);
/** Requests whose completion has not been seen yet, oldest first; a lost completion is forgotten. */
const MAX_OPEN_REQUESTS = 1000;
const MAX_FIELD_LENGTH = 80;

const LEVELS: Record<number, [string, Color]> = {
  10: ["trace", "gray"],
  20: ["debug", "gray"],
  30: ["info", "cyan"],
  40: ["warn", "yellow"],
  50: ["error", "red"],
  60: ["fatal", "red"],
};

type Line = Record<string, unknown>;

/** A formatter: feed it each input line, it returns what to print (null: nothing yet). */
export function createFormatter(options: { color: boolean }): (input: string) => string | null {
  const paint = (color: Color, text: string) =>
    options.color ? `\x1b[${COLORS[color]}m${text}\x1b[0m` : text;
  const open = new Map<string, { method: string; url: string }>();
  let source = "";

  const clock = (line: Line) =>
    paint(
      "gray",
      new Date(typeof line.time === "number" ? line.time : Date.now()).toTimeString().slice(0, 8),
    );
  const head = (line: Line) => `${clock(line)} ${(source || String(line.service ?? "")).padEnd(6)}`;

  function request(line: Line): string | null {
    const key = `${source}:${String(line.reqId)}`;
    if (line.msg === "incoming request") {
      const req = line.req as { method?: string; url?: string } | undefined;
      open.set(key, { method: req?.method ?? "?", url: req?.url ?? "?" });
      if (open.size > MAX_OPEN_REQUESTS) open.delete(open.keys().next().value!);
      return null;
    }
    const started = open.get(key);
    open.delete(key);
    const status = (line.res as { statusCode?: number } | undefined)?.statusCode ?? 0;
    const color: Color = status >= 500 ? "red" : status >= 400 ? "yellow" : status >= 300 ? "cyan" : "green";
    const ms = typeof line.responseTime === "number" ? `${line.responseTime.toFixed(0)} ms` : "";
    const what = started ? `${started.method} ${started.url}` : "(request)";
    return `${head(line)} ${what} ${paint(color, String(status))} ${paint("gray", ms)}`.trimEnd();
  }

  function fields(line: Line): string {
    return Object.entries(line)
      .filter(([key]) => !HIDDEN.has(key))
      .map(([key, value]) => {
        const shown =
          key === "err" && typeof value === "object" && value !== null
            ? String((value as { message?: unknown }).message)
            : typeof value === "string"
              ? value
              : JSON.stringify(value);
        const cut = shown.length > MAX_FIELD_LENGTH ? `${shown.slice(0, MAX_FIELD_LENGTH - 1)}…` : shown;
        return paint("gray", `${key}=`) + cut;
      })
      .join(" ");
  }

  return (input) => {
    const header = /^==> (?:.*\/)?([^/]+?)(?:\.log)? <==$/.exec(input);
    if (header) {
      source = header[1];
      return null;
    }
    if (input.trim() === "") return null;
    let line: Line;
    try {
      line = JSON.parse(input);
    } catch {
      return `${" ".repeat(8)} ${source.padEnd(6)} ${input}`;
    }
    if (typeof line !== "object" || line === null) return `${" ".repeat(8)} ${source.padEnd(6)} ${input}`;
    if (line.msg === "incoming request" || line.msg === "request completed") return request(line);
    const [level, color] = LEVELS[Number(line.level)] ?? ["log", "gray"];
    const rest = fields(line);
    return `${head(line)} ${paint(color, level.padEnd(5))} ${String(line.msg ?? "")}${rest ? ` ${rest}` : ""}`;
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const format = createFormatter({
    color: process.stdout.isTTY === true || process.env.FORCE_COLOR !== undefined,
  });
  createInterface({ input: process.stdin }).on("line", (input) => {
    const output = format(input);
    if (output !== null) process.stdout.write(`${output}\n`);
  });
}
