import { PlateauClient } from "@plateau/client";
import { loadConfig } from "@plateau/config";
import type { StreamEvent } from "@plateau/contract";
import { appendEvents } from "@plateau/db";
import { exampleJob } from "@plateau/spec/example";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faultHarness, sleep, type TestPostgres, waitFor } from "../../../test/faults";
import { expectUnavailable, httpTo } from "./outage-http";
import { startTestApi, type TestApi } from "./test-api";

// The API on a PostgreSQL cluster of the test's own, which the test stops and starts; its queue under a
// prefix of its own, so the run's workers (which read the run's database) never take these jobs.
const faults = faultHarness();
let postgres: TestPostgres;
let api: TestApi;
beforeAll(async () => {
  postgres = await faults.postgres();
  api = await startTestApi({
    DATABASE_URL: postgres.url,
    REDIS_PREFIX: `${loadConfig().REDIS_PREFIX}-pg-outage`,
    SSE_RESYNC_MS: 300,
  });
});
afterAll(async () => {
  await api?.deps.queue.obliterate({ force: true });
  await api?.close();
});

const call = httpTo(() => api);
const expectDown = (response: Response) => expectUnavailable(response, "Postgres");

/** What a worker would write: the event rows, in seq order (the stream reads them from Postgres). */
function workerWrites(
  jobId: string,
  from: number,
  events: { type: "status" | "epoch_end"; epoch?: number; data: object }[],
) {
  return appendEvents(
    api.deps.db,
    events.map((event, i) => ({ jobId, seq: from + i, ...event, data: { ...event.data } })),
  );
}

describe("a Postgres outage", () => {
  it("answers 503s with Retry-After for 10 s, tells an open event stream when to come back, and the stream resumes with Last-Event-ID without a gap or a repeat", async () => {
    const submitted = await call("/v1/jobs", { method: "POST", body: JSON.stringify(exampleJob()) }, 30_000);
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    await workerWrites(id, 2, [
      { type: "status", data: { status: "running" } },
      { type: "epoch_end", epoch: 0, data: { logs: { loss: 1 } } },
    ]);

    const client = new PlateauClient({ baseUrl: api.url, apiKey: api.tenant.key });
    const seen: StreamEvent[] = [];
    const reconnectedAfter: number[] = [];
    const following = (async () => {
      for await (const event of client.streamEvents(id, {
        retryMs: 200,
        maxRetries: 10,
        onReconnect: ({ after }) => reconnectedAfter.push(after),
      })) {
        seen.push(event);
      }
    })();
    following.catch(() => {});
    await waitFor("the first three events", () => (seen.length >= 3 ? true : undefined));

    await postgres.stop();
    try {
      const outageEnds = Date.now() + 10_000;
      let refused = 0;
      for (let i = 0; i < 100 && Date.now() < outageEnds; i++) {
        await expectDown(await call("/v1/jobs", { method: "POST", body: JSON.stringify(exampleJob()) }));
        await expectDown(await call(`/v1/jobs/${id}`));
        refused += 1;
        await sleep(300);
      }
      expect(refused).toBeGreaterThan(5);
      // What an EventSource's reconnect gets meanwhile: a 200 (anything else makes it give up) that says
      // only when to try again.
      const reconnect = await call(`/v1/jobs/${id}/events`, { headers: { "last-event-id": "3" } });
      expect(reconnect.status).toBe(200);
      expect(reconnect.headers.get("content-type")).toMatch(/^text\/event-stream/);
      expect(reconnect.headers.get("retry-after")).toBe("5");
      expect(await reconnect.text()).toBe("retry: 5000\n\n");
    } finally {
      await postgres.start();
    }
    await waitFor(
      "the API to reach Postgres again",
      async () => ((await call(`/v1/jobs/${id}`)).status === 200 ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    await workerWrites(id, 4, [
      { type: "epoch_end", epoch: 1, data: { logs: { loss: 0.5 } } },
      { type: "status", data: { status: "succeeded", stop_reason: "completed" } },
    ]);
    await waitFor("the stream to end with done", () => (seen.at(-1)?.type === "done" ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    await following;

    expect(seen.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, null]);
    expect(reconnectedAfter.length).toBeGreaterThan(0);
    expect(reconnectedAfter.every((after) => after === 3)).toBe(true);
  });
});
