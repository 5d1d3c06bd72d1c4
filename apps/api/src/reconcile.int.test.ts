import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { createJob, finishJob } from "@plateau/db";
import { exampleJob } from "@plateau/spec/example";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcileQueue } from "./reconcile";
import { startTestApi, type TestApi } from "./test-api";

// A queue of our own: other integration files run workers on the run's queue.
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX: `${loadConfig().REDIS_PREFIX}-reconcile` });
});
afterAll(async () => {
  await api.deps.queue.obliterate({ force: true });
  await api.close();
});

describe("reconcileQueue", () => {
  it("puts every queued job Postgres holds back in the queue, once, and leaves finished ones out", async () => {
    const spec = exampleJob();
    const lost = await createJob(api.deps.db, {
      tenantId: api.tenant.id,
      id: randomUUID(),
      name: "lost",
      spec,
      epochs: 50,
    });
    const done = await createJob(api.deps.db, {
      tenantId: api.tenant.id,
      id: randomUUID(),
      name: "done",
      spec,
      epochs: 50,
    });
    await finishJob(api.deps.db, done.id, { stopReason: "user_cancel" });

    await reconcileQueue(api.deps);
    await reconcileQueue(api.deps);

    const waiting = await api.deps.queue.getJobs(["waiting"]);
    expect(waiting.map((job) => job.id)).toContain(lost.id);
    expect(waiting.map((job) => job.id)).not.toContain(done.id);
    expect(waiting.filter((job) => job.id === lost.id)).toHaveLength(1);
  });
});
