import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { createRedis, WorkerHeartbeat } from "@plateau/queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../test-api";

const ADMIN_API_KEY = `admin-${randomUUID()}`;
const config = { ...loadConfig(), REDIS_PREFIX: `${loadConfig().REDIS_PREFIX}-workers` };
// A short heartbeat, so a silent worker expires within the test: 3 × 100 ms.
const heartbeatConfig = { ...config, WORKER_HEARTBEAT_MS: 100 };
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX: config.REDIS_PREFIX, ADMIN_API_KEY });
});
afterAll(() => api.close());

interface Listed {
  id: string;
  host: string;
  backend: string;
  device: string;
  current_jobs: string[];
  started_at: string;
  last_heartbeat_at: string;
}

async function workers(): Promise<Listed[]> {
  const response = await api.app.inject({
    url: "/v1/workers",
    headers: { authorization: `Bearer ${ADMIN_API_KEY}` },
  });
  expect(response.statusCode).toBe(200);
  return response.json().items;
}

/** Polls the list until `predicate` holds (at most 5 s), returning the worker with that id, if listed. */
async function until(id: string, predicate: (worker: Listed | undefined) => boolean) {
  for (let i = 0; i < 100; i++) {
    const worker = (await workers()).find((w) => w.id === id);
    if (predicate(worker)) return worker;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`worker ${id} never got there`);
}

function startWorker(redis = createRedis(config, "publisher")) {
  const id = `host-${randomUUID().slice(0, 8)}:1234`;
  const startedAt = new Date();
  const heartbeat = new WorkerHeartbeat(redis, heartbeatConfig, {
    id,
    host: "host",
    backend: "wasm",
    device: "cpu",
    startedAt,
  });
  return { id, startedAt, heartbeat, redis };
}

describe("GET /v1/workers", () => {
  it("lists a registered worker with what it trains, and forgets it when it stops cleanly", async () => {
    const worker = startWorker();
    try {
      await worker.heartbeat.start();
      const jobId = randomUUID();
      worker.heartbeat.jobStarted(jobId);
      const listed = await until(worker.id, (w) => w?.current_jobs.length === 1);
      expect(listed).toEqual({
        id: worker.id,
        host: "host",
        backend: "wasm",
        device: "cpu",
        current_jobs: [jobId],
        started_at: worker.startedAt.toISOString(),
        last_heartbeat_at: expect.any(String),
      });
      expect(Date.parse(listed!.last_heartbeat_at)).toBeGreaterThanOrEqual(worker.startedAt.getTime());
      worker.heartbeat.jobEnded(jobId);
      await until(worker.id, (w) => w?.current_jobs.length === 0);
      expect(worker.heartbeat.healthy).toBe(true);

      await worker.heartbeat.stop();
      expect((await workers()).map((w) => w.id)).not.toContain(worker.id);
    } finally {
      worker.redis.disconnect();
    }
  });

  it("drops a worker whose heartbeats stop reaching Redis, and that worker reports itself unhealthy", async () => {
    const silent = startWorker();
    const alive = startWorker();
    try {
      await silent.heartbeat.start();
      await alive.heartbeat.start();
      await until(silent.id, (w) => w !== undefined);
      // The network is gone: its heartbeats fail from now on, and its entry expires in Redis.
      silent.redis.disconnect();
      await until(silent.id, (w) => w === undefined);
      expect(silent.heartbeat.healthy).toBe(false);
      expect((await workers()).map((w) => w.id)).toContain(alive.id);
    } finally {
      await silent.heartbeat.stop().catch(() => {});
      await alive.heartbeat.stop();
      alive.redis.disconnect();
    }
  });

  it("needs the admin key", async () => {
    const response = await api.inject({ url: "/v1/workers" });
    expect(response.statusCode).toBe(401);
  });
});
