import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("./main.ts", import.meta.url));

export interface LogLine {
  msg: string;
  [key: string]: unknown;
}

/** A worker process (`npm run worker`) a test starts, reads the pino lines of, and stops or kills. */
export interface WorkerProcess {
  child: ChildProcess;
  lines: LogLine[];
  /** Resolves with the first line (seen or to come) whose msg is `msg` and that `match` accepts. */
  waitFor(msg: string, timeoutMs?: number, match?: (line: LogLine) => boolean): Promise<LogLine>;
  exited: Promise<number | null>;
  /** The end of its stderr, for a failing test's message. */
  stderr(): string;
}

export function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", main], {
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines: LogLine[] = [];
  let buffered = "";
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split("\n");
    buffered = complete.pop()!;
    for (const text of complete.filter((line) => line.startsWith("{"))) {
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.match(line))) waiter.resolve(line);
    }
  });
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    waitFor(msg, timeoutMs = 60_000, match = () => true) {
      const wanted = (line: LogLine) => line.msg === msg && match(line);
      const seen = lines.find(wanted);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no "${msg}" log line within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          match: wanted,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}
