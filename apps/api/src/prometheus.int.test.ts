import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { createRedis, WorkerHeartbeat } from "@plateau/queue";
import { exampleJob } from "@plateau/spec/example";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  countOf,
  type Exposition,
  parseExposition,
  sampleValue,
  scrapeUntil,
  typeOf,
} from "../../../test/prometheus-text";
import { startTestApi, type TestApi } from "./test-api";

const ADMIN_API_KEY = `admin-${randomUUID()}`;
// A queue of its own, so its depth is this file's alone.
const REDIS_PREFIX = `${loadConfig().REDIS_PREFIX}-prometheus`;
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX, ADMIN_API_KEY });
});
afterAll(async () => {
  await api.deps.queue.obliterate({ force: true });
  await api.close();
});

async function scrape(): Promise<Exposition> {
  const response = await api.app.inject({
    url: "/metrics",
    headers: { authorization: `Bearer ${ADMIN_API_KEY}` },
  });
  expect(response.statusCode).toBe(200);
  expect(response.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(response.body);
}

async function submit(): Promise<string> {
  const response = await api.inject({ method: "POST", url: "/v1/jobs", payload: exampleJob() });
  expect(response.statusCode).toBe(201);
  return response.json().id;
}

const GET_JOB = { method: "GET", route: "/v1/jobs/:id", status_code: "200" };

describe("GET /metrics on the API", () => {
  it("parses as Prometheus text, with each family's type", async () => {
    const metrics = await scrape();
    expect(typeOf(metrics, "plateau_http_request_duration_seconds")).toBe("histogram");
    expect(typeOf(metrics, "plateau_jobs")).toBe("gauge");
    expect(typeOf(metrics, "plateau_queue_jobs")).toBe("gauge");
    expect(typeOf(metrics, "plateau_sse_connections")).toBe("gauge");
    expect(typeOf(metrics, "plateau_workers")).toBe("gauge");
    expect(typeOf(metrics, "process_cpu_seconds_total")).toBe("counter");
    const states = metrics.get("plateau_queue_jobs")?.samples.map((sample) => sample.labels.state);
    expect(states?.sort()).toEqual(["active", "delayed", "prioritized", "waiting"]);
  });

  it("counts a submitted job in the queue and by status, and a request in its route's histogram", async () => {
    const before = await scrape();
    const first = await submit();
    await submit();
    expect((await api.inject({ url: `/v1/jobs/${first}` })).statusCode).toBe(200);

    const after = await scrape();
    expect(sampleValue(after, "plateau_queue_jobs", { state: "waiting" })).toBe(
      sampleValue(before, "plateau_queue_jobs", { state: "waiting" }) + 2,
    );
    expect(countOf(after, "plateau_http_request_duration_seconds", GET_JOB)).toBe(
      countOf(before, "plateau_http_request_duration_seconds", GET_JOB) + 1,
    );
    // One series per route template: the job's id is in no label.
    const routes = after.get("plateau_http_request_duration_seconds")!.samples.map((s) => s.labels.route);
    expect(routes.some((route) => route.includes(first))).toBe(false);

    // Other files share the database, but a cancelled job stays cancelled: that count only grows.
    const cancelled = sampleValue(before, "plateau_jobs", { status: "cancelled" });
    expect((await api.inject({ method: "POST", url: `/v1/jobs/${first}/cancel` })).statusCode).toBe(202);
    const later = await scrapeUntil(
      scrape,
      (m) => sampleValue(m, "plateau_jobs", { status: "cancelled" }) > cancelled,
    );
    expect(sampleValue(later, "plateau_queue_jobs", { state: "waiting" })).toBe(
      sampleValue(after, "plateau_queue_jobs", { state: "waiting" }) - 1,
    );
  });

  it("counts open event streams while they are open", async () => {
    const id = await submit();
    const controller = new AbortController();
    const stream = await fetch(`${api.url}/v1/jobs/${id}/events`, {
      headers: api.tenant.headers,
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    await scrapeUntil(scrape, (m) => sampleValue(m, "plateau_sse_connections") === 1);
    controller.abort();
    await scrapeUntil(scrape, (m) => sampleValue(m, "plateau_sse_connections") === 0);
  });

  it("counts live workers by backend", async () => {
    const redis = createRedis(api.deps.config, "publisher");
    const heartbeat = new WorkerHeartbeat(
      redis,
      { REDIS_PREFIX, WORKER_HEARTBEAT_MS: 10_000 },
      {
        id: "metrics-test:1",
        host: "metrics-test",
        backend: "wasm",
        device: "cpu",
        startedAt: new Date(),
      },
    );
    try {
      const before = sampleValue(await scrape(), "plateau_workers", { backend: "wasm" });
      await heartbeat.start();
      expect(sampleValue(await scrape(), "plateau_workers", { backend: "wasm" })).toBe(before + 1);
    } finally {
      await heartbeat.stop();
      redis.disconnect();
    }
  });
});
