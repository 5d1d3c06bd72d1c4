import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import type { StatusData } from "@plateau/contract";
import { appendEvents, createJob, type NewEvent, type Prisma } from "@plateau/db";
import { jobEventsChannel } from "@plateau/queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../test-api";

const base = loadConfig();
const RESYNC_MS = 300;
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX: `${base.REDIS_PREFIX}-api-events`, SSE_RESYNC_MS: RESYNC_MS });
});
afterAll(() => api.close());

const start = Date.parse("2030-01-01T00:00:00Z");

async function newJob(): Promise<string> {
  const job = await createJob(api.deps.db, { tenantId: api.tenant.id, name: "events", spec: {}, epochs: 3 });
  await appendEvents(api.deps.db, [{ jobId: job.id, seq: 1, type: "status", data: { status: "queued" } }]);
  return job.id;
}

const status = (seq: number, data: StatusData) => ({
  seq,
  type: "status" as const,
  data: data as Prisma.InputJsonObject,
});
const epochEnd = (seq: number, epoch: number) => ({
  seq,
  type: "epoch_end" as const,
  epoch,
  data: { logs: { loss: 1 / (epoch + 1), learning_rate: 0.01 } },
});
const batchEnd = (seq: number, batch: number, ms: number) => ({
  seq,
  type: "batch_end" as const,
  epoch: 0,
  batch,
  data: { logs: { loss: 1, batch } },
  createdAt: new Date(start + ms),
});

type Event = Omit<NewEvent, "jobId">;

/** What the worker does: persist, then publish (unless told to skip the publish, as if it was missed). */
async function emit(jobId: string, events: Event[], options: { publish?: boolean } = {}) {
  const rows = events.map((event) => ({ ...event, jobId, createdAt: event.createdAt ?? new Date() }));
  await appendEvents(api.deps.db, rows);
  if (options.publish === false) return;
  for (const row of rows) {
    const message = {
      seq: row.seq,
      type: row.type,
      epoch: row.epoch ?? null,
      batch: row.batch ?? null,
      data: row.data,
      time: row.createdAt.toISOString(),
    };
    await api.deps.redis.publish(jobEventsChannel(api.deps.config, jobId), JSON.stringify(message));
  }
}

interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

interface ListenOptions {
  headers?: Record<string, string>;
  stopAfter?: (event: SseEvent) => boolean;
  onEvent?: (e: SseEvent) => void;
}

/** An SSE client: collects events until `stopAfter` says so or the server ends the stream. */
async function listen(url: string, options: ListenOptions = {}) {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { ...api.tenant.headers, ...options.headers },
    signal: controller.signal,
  });
  return read(response, controller, options);
}

/** Reads an event stream's response (one its client may have left unread for a while). */
async function read(
  response: Response,
  controller: AbortController,
  options: ListenOptions = {},
): Promise<{ events: SseEvent[]; ended: boolean; contentType: string | null }> {
  const events: SseEvent[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { events, ended: true, contentType: response.headers.get("content-type") };
      buffer += value;
      let boundary = buffer.indexOf("\n\n");
      while (boundary >= 0) {
        const frame = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        boundary = buffer.indexOf("\n\n");
        const fields = Object.fromEntries(
          frame
            .split("\n")
            .filter((line) => !line.startsWith(":"))
            .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]),
        );
        if (!fields.event) continue;
        const event = { id: fields.id, event: fields.event, data: JSON.parse(fields.data) };
        events.push(event);
        options.onEvent?.(event);
        if (options.stopAfter?.(event)) {
          controller.abort();
          return { events, ended: false, contentType: response.headers.get("content-type") };
        }
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return { events, ended: false, contentType: null };
    throw error;
  }
}

const until = async (check: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe("GET /v1/jobs/:id/metrics", () => {
  it("pages epoch or batch rows by seq: polling with after yields each row once, in order", async () => {
    const jobId = await newJob();
    await emit(jobId, [
      status(2, { status: "running" }),
      batchEnd(3, 0, 0),
      epochEnd(4, 0),
      batchEnd(5, 1, 10),
      epochEnd(6, 1),
      epochEnd(7, 2),
    ]);
    const seen: number[] = [];
    let after = 0;
    for (let call = 0; call < 5; call++) {
      const response = await api.inject({
        url: `/v1/jobs/${jobId}/metrics`,
        query: { after: String(after), limit: "2" },
      });
      expect(response.statusCode).toBe(200);
      const page = response.json();
      seen.push(...page.items.map((item: { seq: number }) => item.seq));
      if (page.items.length === 0) expect(page.next_after).toBe(after);
      after = page.next_after;
    }
    expect(seen).toEqual([4, 6, 7]);
    const first = (await api.inject({ url: `/v1/jobs/${jobId}/metrics?limit=1` })).json();
    expect(first.items).toEqual([
      { seq: 4, epoch: 0, batch: null, logs: { loss: 1, learning_rate: 0.01 }, time: expect.any(String) },
    ]);

    const batches = (await api.inject({ url: `/v1/jobs/${jobId}/metrics?level=batch` })).json();
    expect(batches.items.map((item: { seq: number; batch: number }) => [item.seq, item.batch])).toEqual([
      [3, 0],
      [5, 1],
    ]);
    expect((await api.inject({ url: `/v1/jobs/${randomUUID()}/metrics` })).statusCode).toBe(404);
    expect((await api.inject({ url: `/v1/jobs/${jobId}/metrics?level=step` })).statusCode).toBe(400);
  });
});

describe("GET /v1/jobs/:id/events", () => {
  it("replays the past, then streams live events (filling gaps from Postgres), then done", async () => {
    const jobId = await newJob();
    await emit(jobId, [status(2, { status: "running", backend: "cpu" }), epochEnd(3, 0)]);
    const received: SseEvent[] = [];
    const streaming = listen(`${api.url}/v1/jobs/${jobId}/events`, { onEvent: (e) => received.push(e) });
    await until(() => received.length === 3);
    await emit(jobId, [epochEnd(4, 1)]);
    // Persisted but its publish missed by this API (published before it subscribed, say)...
    await emit(
      jobId,
      [
        {
          seq: 5,
          type: "callback",
          epoch: 1,
          data: { callback: "ReduceLROnPlateau", action: "reduce_lr", details: {} },
        },
      ],
      { publish: false },
    );
    // ...so the next live event reveals the gap and Postgres fills it.
    await emit(jobId, [epochEnd(6, 2), status(7, { status: "succeeded", stop_reason: "completed" })]);
    const { events, ended, contentType } = await streaming;
    expect(contentType).toBe("text/event-stream");
    expect(ended).toBe(true);
    expect(events.map((e) => [e.id, e.event])).toEqual([
      ["1", "status"],
      ["2", "status"],
      ["3", "epoch_end"],
      ["4", "epoch_end"],
      ["5", "callback"],
      ["6", "epoch_end"],
      ["7", "status"],
      [undefined, "done"],
    ]);
    expect(events[2].data).toMatchObject({
      seq: 3,
      type: "epoch_end",
      epoch: 0,
      data: { logs: { loss: 1 } },
    });
    expect(events.at(-1)?.data).toEqual({ status: "succeeded", stop_reason: "completed" });
  });

  it("delivers a job's last event even when its live message was lost (Redis pub/sub is at-most-once)", async () => {
    const jobId = await newJob();
    const received: SseEvent[] = [];
    const streaming = listen(`${api.url}/v1/jobs/${jobId}/events`, { onEvent: (e) => received.push(e) });
    await until(() => received.length === 1);
    const lostAt = Date.now();
    // Nothing follows it live, so only the stream's periodic read of Postgres can find it.
    await emit(jobId, [status(2, { status: "failed", stop_reason: "error" })], { publish: false });
    const { events, ended } = await streaming;
    expect(ended).toBe(true);
    expect(events.map((e) => [e.id, e.event])).toEqual([
      ["1", "status"],
      ["2", "status"],
      [undefined, "done"],
    ]);
    expect(Date.now() - lostAt).toBeLessThan(RESYNC_MS + 2000);
  });

  it("resumes from Last-Event-ID (or ?after) without losing or repeating an event", async () => {
    const jobId = await newJob();
    await emit(jobId, [status(2, { status: "running" }), epochEnd(3, 0)]);
    const first = await listen(`${api.url}/v1/jobs/${jobId}/events`, { stopAfter: (e) => e.id === "2" });
    expect(first.ended).toBe(false);
    // While the client is away.
    await emit(jobId, [epochEnd(4, 1), epochEnd(5, 2)]);
    const received: SseEvent[] = [];
    const second = listen(`${api.url}/v1/jobs/${jobId}/events?after=1`, {
      headers: { "Last-Event-ID": first.events.at(-1)!.id! },
      onEvent: (e) => received.push(e),
    });
    await until(() => received.length === 3);
    await emit(jobId, [epochEnd(6, 3), status(7, { status: "cancelled", stop_reason: "user_cancel" })]);
    const ids = [...first.events, ...(await second).events].map((e) => e.id ?? e.event);
    expect(ids).toEqual(["1", "2", "3", "4", "5", "6", "7", "done"]);

    const byQuery = await listen(`${api.url}/v1/jobs/${jobId}/events?after=5`);
    expect(byQuery.events.map((e) => e.id ?? e.event)).toEqual(["6", "7", "done"]);
    // Starting after the terminal status with ?after still ends with done.
    const late = await listen(`${api.url}/v1/jobs/${jobId}/events?after=7`);
    expect(late).toMatchObject({
      ended: true,
      events: [{ event: "done", data: { status: "cancelled", stop_reason: "user_cancel" } }],
    });
  });

  it("answers a reconnect that already has the finished job's last event with 204, so EventSource stops", async () => {
    const jobId = await newJob();
    await emit(jobId, [
      status(2, { status: "running" }),
      status(3, { status: "succeeded", stop_reason: "completed" }),
    ]);
    for (const lastEventId of ["3", "4", "2147483647"]) {
      const response = await fetch(`${api.url}/v1/jobs/${jobId}/events`, {
        headers: { ...api.tenant.headers, accept: "text/event-stream", "Last-Event-ID": lastEventId },
      });
      expect(response.status, lastEventId).toBe(204);
      expect(await response.text()).toBe("");
    }
    // One event short: the rest of the stream, then done.
    const behind = await listen(`${api.url}/v1/jobs/${jobId}/events`, { headers: { "Last-Event-ID": "2" } });
    expect(behind.events.map((e) => e.id ?? e.event)).toEqual(["3", "done"]);
  });

  it("samples batch_end to one per 250 ms of training time, the same live and replayed", async () => {
    const jobId = await newJob();
    const batches = Array.from({ length: 7 }, (_, i) => batchEnd(2 + i, i, i * 100));
    await emit(jobId, batches.slice(0, 3));
    const received: SseEvent[] = [];
    const live = listen(`${api.url}/v1/jobs/${jobId}/events`, { onEvent: (e) => received.push(e) });
    await until(() => received.length === 2);
    await emit(jobId, [...batches.slice(3), status(9, { status: "succeeded", stop_reason: "completed" })]);
    const sampled = (await live).events.filter((e) => e.event === "batch_end").map((e) => e.data.batch);
    expect(sampled).toEqual([0, 3, 6]);
    const replayed = await listen(`${api.url}/v1/jobs/${jobId}/events`);
    expect(replayed.events.filter((e) => e.event === "batch_end").map((e) => e.data.batch)).toEqual([
      0, 3, 6,
    ]);
  });

  it("shares one Redis subscription per job among clients and drops it when they leave", async () => {
    const jobId = await newJob();
    const before = api.deps.events.channelCount;
    const a: SseEvent[] = [];
    const b: SseEvent[] = [];
    const clientA = listen(`${api.url}/v1/jobs/${jobId}/events`, {
      onEvent: (e) => a.push(e),
      stopAfter: (e) => e.id === "2",
    });
    const clientB = listen(`${api.url}/v1/jobs/${jobId}/events`, {
      onEvent: (e) => b.push(e),
      stopAfter: (e) => e.id === "2",
    });
    await until(() => a.length === 1 && b.length === 1);
    expect(api.deps.events.channelCount).toBe(before + 1);
    await emit(jobId, [status(2, { status: "running" })]);
    await Promise.all([clientA, clientB]);
    await until(() => api.deps.events.channelCount === before);
  });

  it("lets a client that stops reading fall behind alone; when it reads again it gets every event once", async () => {
    const jobId = await newJob();
    const url = `${api.url}/v1/jobs/${jobId}/events`;
    const stalledController = new AbortController();
    const stalled = await fetch(url, { headers: api.tenant.headers, signal: stalledController.signal });
    const received: SseEvent[] = [];
    const reading = listen(url, { onEvent: (e) => received.push(e) });
    await until(() => received.length === 1);
    // 20 MB of events, far more than the socket buffers between the API and a client that reads nothing.
    const text = "x".repeat(200_000);
    for (let seq = 2; seq <= 101; seq++) {
      await emit(jobId, [
        { seq, type: "callback", epoch: 0, data: { callback: "Rule", action: "log", details: { text } } },
      ]);
    }
    await emit(jobId, [status(102, { status: "succeeded", stop_reason: "completed" })]);
    const seqs = Array.from({ length: 102 }, (_, i) => String(i + 1));
    // The reading client has the whole stream while the other has read none of it.
    expect((await reading).events.map((e) => e.id ?? e.event)).toEqual([...seqs, "done"]);
    const late = await read(stalled, stalledController);
    expect(late.ended).toBe(true);
    expect(late.events.map((e) => e.id ?? e.event)).toEqual([...seqs, "done"]);
    expect(late.events[50].data).toMatchObject({ seq: 51, data: { details: { text } } });
  });

  it("answers at once a client that already has every event so far, before the job's next one", async () => {
    const jobId = await newJob();
    await emit(jobId, [status(2, { status: "running" })]);
    const controller = new AbortController();
    const response = await fetch(`${api.url}/v1/jobs/${jobId}/events`, {
      headers: { ...api.tenant.headers, "Last-Event-ID": "2" },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const rest = read(response, controller);
    await emit(jobId, [status(3, { status: "succeeded", stop_reason: "completed" })]);
    expect((await rest).events.map((e) => e.id ?? e.event)).toEqual(["3", "done"]);
  });

  it("answers an unknown job with 404 in the error shape, not a stream", async () => {
    const response = await fetch(`${api.url}/v1/jobs/${randomUUID()}/events`, {
      headers: { ...api.tenant.headers, accept: "text/event-stream" },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: "not_found" });
    const badId = await fetch(`${api.url}/v1/jobs/${await newJob()}/events`, {
      headers: { ...api.tenant.headers, "Last-Event-ID": "x" },
    });
    expect(badId.status).toBe(400);
  });

  it.each([
    ["a garbage Last-Event-ID", { "Last-Event-ID": "abc" }, "", "/headers/last-event-id"],
    ["a Last-Event-ID beyond int4", { "Last-Event-ID": "9007199254740993" }, "", "/headers/last-event-id"],
    ["a 10-digit Last-Event-ID beyond int4", { "Last-Event-ID": "2147483648" }, "", "/headers/last-event-id"],
    ["?after beyond int4", {}, "?after=2147483648", "/querystring/after"],
    ["?after=Infinity", {}, "?after=Infinity", "/querystring/after"],
  ])("answers %s with a 400 naming it", async (_, headers, query, path) => {
    const response = await fetch(`${api.url}/v1/jobs/${await newJob()}/events${query}`, {
      headers: { ...api.tenant.headers, ...headers },
    });
    expect(response.status).toBe(400);
    expect((await response.json()).details).toEqual([{ path, message: expect.any(String) }]);
  });
});
