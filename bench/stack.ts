import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { PlateauClient } from "@plateau/client";
import { type Config, loadConfig } from "@plateau/config";
import type { TestProject } from "vitest/node";
import setupIsolated from "../test/global-setup";
import { stopChild } from "../test/services";

const API_MAIN = fileURLToPath(new URL("../apps/api/src/main.ts", import.meta.url));
const WORKER_MAIN = fileURLToPath(new URL("../apps/worker/src/main.ts", import.meta.url));

/** The services one bench run uses, an API process listening on them, and worker processes on demand. */
export interface Stack {
  /** The run's isolated settings (database, Redis prefix, bucket), as the API and workers read them. */
  config: Config;
  baseUrl: string;
  /** The API process, to read its memory from /proc. */
  apiPid: number;
  /** A client of the API as a tenant of the run's own, with its key. */
  client: PlateauClient;
  /** Starts `apps/worker` as its own process on the run's services; resolves once it is ready. */
  startWorker(env?: Record<string, string>): Promise<Service>;
  /** Folder of the processes' log files. */
  logs: string;
  /** Stops the API and any worker still running, removes the database, Redis keys and bucket, and the logs unless kept. */
  stop(options?: { keepLogs?: boolean }): Promise<void>;
}

export interface Service {
  /** The process's log file (pino lines), kept when the run fails. */
  log: string;
  pid: number;
  stop(): Promise<void>;
}

/** Settings both processes get: the bench compares them against the same backend, at production logging. */
const PROCESS_ENV = { TFJS_BACKEND: "wasm", LOG_LEVEL: process.env.LOG_LEVEL ?? "info" };
/**
 * The API's own: an admin key to make the run's tenant with, and per-tenant limits out of the way of
 * the measures (submit posts thousands of jobs that stay queued, from one key, as fast as it can).
 */
const API_ENV = {
  ADMIN_API_KEY: randomBytes(24).toString("base64url"),
  MAX_ACTIVE_JOBS_PER_TENANT: "1000000",
  RATE_LIMIT_PER_MINUTE: "1000000",
  // live holds a thousand event streams open with one key.
  MAX_STREAMS_PER_KEY: "100000",
};

/**
 * Isolates the run exactly as the integration tests do (test/global-setup.ts: its own database, Redis
 * prefix and bucket on local services, containers or s3rver), then starts the API as a real process.
 */
export async function startStack(): Promise<Stack> {
  // The global setup only uses the project to hand the settings to vitest; it also puts them in process.env.
  const teardown = await setupIsolated({ provide: () => {} } as unknown as TestProject);
  const logs = mkdtempSync(join(tmpdir(), "plateau-bench-"));
  const children = new Set<Service>();
  const stop = async () => {
    await Promise.allSettled([...children].map((child) => child.stop()));
    await teardown();
  };
  try {
    const config = loadConfig();
    const port = await freePort();
    const api = spawnService("api", API_MAIN, { ...API_ENV, API_PORT: String(port) }, logs);
    children.add(api);
    const baseUrl = `http://${config.API_HOST}:${port}`;
    await until(async () => (await fetch(`${baseUrl}/readyz`).catch(() => null))?.ok === true, api, 60_000);
    // A tenant and key of the run's own, through the admin API as an operator makes them.
    const admin = new PlateauClient({ baseUrl, apiKey: API_ENV.ADMIN_API_KEY });
    const tenant = await admin.createTenant(`bench-${randomBytes(4).toString("hex")}`);
    const { key } = await admin.createApiKey(tenant.id, { name: "bench" });
    let workers = 0;
    return {
      config,
      baseUrl,
      apiPid: api.child.pid ?? 0,
      client: new PlateauClient({ baseUrl, apiKey: key }),
      async startWorker(env = {}) {
        const worker = spawnService(`worker-${++workers}`, WORKER_MAIN, env, logs);
        children.add(worker);
        await until(
          async () => readFileSync(worker.log, "utf8").includes('"msg":"worker ready"'),
          worker,
          60_000,
        );
        return {
          log: worker.log,
          pid: worker.pid,
          stop: async () => {
            children.delete(worker);
            await worker.stop();
          },
        };
      },
      logs,
      async stop({ keepLogs = false } = {}) {
        await stop();
        if (!keepLogs) rmSync(logs, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message} (process logs in ${logs})`, { cause: error });
  }
}

interface Spawned extends Service {
  child: ChildProcess;
}

/** Logs go to a file, not a pipe: reading them here would take CPU from the process being measured. */
function spawnService(name: string, main: string, env: Record<string, string>, logs: string): Spawned {
  const log = join(logs, `${name}.log`);
  const out = openSync(log, "a");
  const child = spawn(process.execPath, ["--import", "tsx", main], {
    env: { ...process.env, ...PROCESS_ENV, ...env },
    stdio: ["ignore", out, out],
  });
  return {
    child,
    log,
    pid: child.pid ?? 0,
    // Workers get time to finish their job and flush its events.
    stop: () => stopChild(child, 25_000),
  };
}

async function until(ready: () => Promise<boolean>, service: Spawned, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (service.child.exitCode !== null) {
      throw new Error(`${service.log} exited with code ${service.child.exitCode} before it was ready`);
    }
    if (Date.now() > deadline) throw new Error(`${service.log}: not ready within ${timeoutMs} ms`);
    await delay(100);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
