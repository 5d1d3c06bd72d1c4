import { exampleJob } from "@plateau/spec/example";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faultHarness, sleep, type TestRedis, waitFor } from "../../../test/faults";
import { expectUnavailable, httpTo } from "./outage-http";
import { startTestApi, type TestApi } from "./test-api";

// The API on a redis-server of the test's own, which the tests stop and freeze; with an append-only
// file, as production runs it (README, Operating Plateau), so a restart keeps the queue.
const faults = faultHarness();
let redis: TestRedis;
let api: TestApi;
beforeAll(async () => {
  redis = await faults.redis({ appendonly: true });
  api = await startTestApi({ REDIS_URL: redis.url });
});
afterAll(async () => {
  await api?.close();
});

const call = httpTo(() => api);
const expectDown = (response: Response) => expectUnavailable(response, "Redis");
const submit = (ms?: number) => call("/v1/jobs", { method: "POST", body: JSON.stringify(exampleJob()) }, ms);
const storedJobs = () => api.deps.db.job.count({ where: { tenantId: api.tenant.id } });

/** Submits until one is accepted (Redis back and reconnected), at most 20 s; returns the job's id. */
async function submitOnceRedisIsBack(): Promise<string> {
  return waitFor(
    "a submission to be accepted after Redis returned",
    async () => {
      const response = await submit();
      return response.status === 201 ? ((await response.json()) as { id: string }).id : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  );
}

describe("Redis outages", () => {
  it("while Redis is down for 10 s POSTs are 503s with Retry-After and store nothing; accepted jobs are all queued", async () => {
    const accepted: string[] = [];
    for (let i = 0; i < 2; i++) {
      // The first submission also loads the model checks, which takes its time on a busy machine.
      const response = await submit(30_000);
      expect(response.status).toBe(201);
      accepted.push(((await response.json()) as { id: string }).id);
    }
    const before = await storedJobs();

    await redis.stop();
    try {
      const outageEnds = Date.now() + 10_000;
      let refused = 0;
      let slowestMs = 0;
      for (let i = 0; i < 200 && Date.now() < outageEnds; i++) {
        const started = performance.now();
        await expectDown(await submit());
        slowestMs = Math.max(slowestMs, performance.now() - started);
        refused += 1;
        await sleep(200);
      }
      expect(refused).toBeGreaterThan(5);
      console.log(
        `Redis down: ${refused} POSTs, all 503, the slowest answered in ${Math.round(slowestMs)} ms`,
      );
      // Reads that need only Postgres still work (the rate limit is skipped), and readiness names Redis.
      expect((await call("/v1/jobs")).status).toBe(200);
      const ready = await call("/readyz");
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { details: { path: string }[] }).details.map((d) => d.path)).toEqual([
        "/redis",
      ]);
      expect(await storedJobs()).toBe(before);
    } finally {
      await redis.start();
    }
    accepted.push(await submitOnceRedisIsBack());
    await waitFor(
      "/readyz to recover by itself",
      async () => ((await call("/readyz")).status === 200 ? true : undefined),
      {
        timeoutMs: 10_000,
        intervalMs: 200,
      },
    );
    expect(await storedJobs()).toBe(before + 1);
    for (const id of accepted) expect(await api.deps.queue.getJobState(id)).toBe("waiting");
  });

  it("a frozen Redis (the socket open, nothing answering) gets 503s instead of hanging requests", async () => {
    await submitOnceRedisIsBack();
    const before = await storedJobs();
    redis.freeze();
    try {
      let slowestMs = 0;
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        await expectDown(await submit());
        slowestMs = Math.max(slowestMs, performance.now() - started);
      }
      console.log(`Redis frozen: 3 POSTs, all 503, the slowest answered in ${Math.round(slowestMs)} ms`);
      const ready = await call("/readyz", {}, 3_000);
      expect(ready.status).toBe(503);
    } finally {
      redis.thaw();
    }
    expect(await storedJobs()).toBe(before);
    await submitOnceRedisIsBack();
  });
});
