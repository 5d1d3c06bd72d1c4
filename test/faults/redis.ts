import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sparePort } from "./ports";
import { alive, signal, spawnServer, stopPid } from "./processes";
import { waitFor } from "./wait";

export interface RedisOptions {
  /** Keep an append-only file, so a restart (not flushAndRestart) keeps the data, as in production. */
  appendonly?: boolean;
  /** Extra `--name value` settings, e.g. `{ "maxmemory-policy": "allkeys-lru" }`. */
  settings?: Record<string, string>;
}

/** A redis-server of the test's own; `pid` changes when it restarts. */
export interface TestRedis {
  url: string;
  port: number;
  readonly pid: number;
  /** Stops it (SIGTERM, then SIGKILL); clients see connections refused until `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory (an AOF, if kept, is replayed). */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers, as with a hung or partitioned server. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** Stops it, deletes its data files, and starts it empty: Redis restarted without its data. */
  flushAndRestart(): Promise<void>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;

export async function startRedis(options: RedisOptions = {}): Promise<TestRedis> {
  const port = await sparePort();
  const root = await mkdtemp(join(tmpdir(), "plateau-fault-redis-"));
  const settings: Record<string, string> = {
    port: String(port),
    bind: "127.0.0.1",
    dir: root,
    save: "",
    appendonly: options.appendonly ? "yes" : "no",
    appenddirname: "data",
    ...options.settings,
  };
  const args = Object.entries(settings).flatMap(([name, value]) => [`--${name}`, value]);
  let child: ChildProcess | undefined;
  let frozen = false;

  const start = async () => {
    if (child?.pid && alive(child.pid)) return;
    const server = spawnServer("redis-server", args);
    child = server.child;
    const exited = new Promise<never>((_, reject) =>
      server.child.once("exit", (code) =>
        reject(new Error(`redis-server exited with ${code} before it answered:\n${server.output()}`)),
      ),
    );
    exited.catch(() => {});
    await Promise.race([
      waitFor(`redis-server on port ${port} to answer PING`, () => ping(port), {
        timeoutMs: START_TIMEOUT_MS,
      }),
      exited,
    ]).catch((error: Error) => {
      throw new Error(`${error.message}\n${server.output()}`);
    });
  };
  const stop = async () => {
    frozen = false;
    if (child?.pid) await stopPid(child.pid);
  };
  const redis: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid ?? 0;
    },
    start,
    stop,
    freeze: () => {
      if (child?.pid && signal(child.pid, "SIGSTOP")) frozen = true;
    },
    thaw: () => {
      if (frozen && child?.pid) signal(child.pid, "SIGCONT");
      frozen = false;
    },
    flushAndRestart: async () => {
      await stop();
      await rm(join(root, "data"), { recursive: true, force: true });
      await rm(join(root, "dump.rdb"), { force: true });
      await start();
    },
    close: async () => {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await start();
  } catch (error) {
    await redis.close();
    throw error;
  }
  return redis;
}

/** True when a PING on a fresh connection answers PONG within 1 s. */
export function ping(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (value: true | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), 1_000);
    let reply = "";
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG") ? true : undefined);
    });
    socket.once("error", () => done(undefined));
  });
}
