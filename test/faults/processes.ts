import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { waitFor } from "./wait";

/**
 * Every server process a fault test started and that may still run. If the test process exits
 * without its afterAll (a crash, a timeout), the exit hook still kills them, each by its own PID.
 */
const running = new Set<number>();
let hooked = false;

export function track(pid: number): void {
  running.add(pid);
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const tracked of running) signal(tracked, "SIGKILL");
  });
}

export function untrack(pid: number): void {
  running.delete(pid);
}

/** Sends `sig` to `pid`; false when the process is already gone. */
export function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Running (a zombie, exited but not reaped by its parent, is not). */
export function alive(pid: number): boolean {
  return signal(pid, 0) && !isZombie(pid);
}

/** Spawns a server with its output kept (the last 20 kB) for the error message if it fails to start. */
export function spawnServer(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.once("error", (error) => keep(Buffer.from(`\n${error.message}\n`)));
  if (child.pid) track(child.pid);
  child.once("exit", () => child.pid && untrack(child.pid));
  return { child, output: () => output };
}

/** SIGTERM (after SIGCONT, in case it is frozen), then SIGKILL after `graceMs`; waits at most 2 × graceMs. */
export async function stopPid(pid: number, graceMs = 5_000): Promise<void> {
  if (!alive(pid)) return untrack(pid);
  signal(pid, "SIGCONT");
  signal(pid, "SIGTERM");
  const gone = () => (alive(pid) ? undefined : true);
  try {
    await waitFor(`process ${pid} to exit after SIGTERM`, gone, { timeoutMs: graceMs });
  } catch {
    signal(pid, "SIGKILL");
    await waitFor(`process ${pid} to exit after SIGKILL`, gone, { timeoutMs: graceMs });
  }
  untrack(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}
