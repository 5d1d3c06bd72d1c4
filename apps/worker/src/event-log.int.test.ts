import { loadConfig } from "@plateau/config";
import { createDb, createJob, eventsAfter, type JobEvent } from "@plateau/db";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countOf, parseExposition } from "../../../test/prometheus-text";
import { createTestTenant } from "../../../test/tenants";
import { EventLog, type EventLogOptions } from "./event-log";
import { WorkerTelemetry } from "./telemetry";

const db = createDb(loadConfig().DATABASE_URL);
let tenantId: string;
beforeAll(async () => {
  tenantId = (await createTestTenant(db, "event-log")).id;
});
afterAll(() => db.$disconnect());

async function openLog(options: Partial<EventLogOptions> = {}) {
  const job = await createJob(db, { tenantId, name: "event-log", spec: {}, epochs: 1 });
  const events = await EventLog.open({
    db,
    publisher: null,
    channel: "unused",
    jobId: job.id,
    flushMs: 20,
    flushRows: 500,
    log: pino({ level: "silent" }),
    ...options,
  });
  return { jobId: job.id, events };
}

const stored = (jobId: string) => eventsAfter(db, jobId, 0, { limit: 10_000 });
const dropNotices = (events: JobEvent[]) =>
  events.filter((e) => (e.data as { action?: string }).action === "events_dropped");
const log = (batch: number) =>
  ({
    callback: "Rule",
    action: "log",
    details: { on: "train_batch_end", message: `batch ${batch}` },
  }) as const;

describe("EventLog (real Postgres)", () => {
  it("reports each flush's lag, from its oldest event's creation to storage and publication", async () => {
    const telemetry = new WorkerTelemetry({ backend: "cpu", device: "cpu" });
    const lag = async () =>
      countOf(parseExposition(await telemetry.registry.metrics()), "plateau_worker_event_lag_seconds");
    const { events } = await openLog({ telemetry });
    events.append("status", { status: "running" });
    events.append("epoch_end", { logs: { loss: 1 } }, { epoch: 0 });
    await events.flush();
    expect(await lag()).toBe(1);
    await events.close(); // nothing left: no flush, no lag
    expect(await lag()).toBe(1);
  });

  it("stores at most MAX_EVENTS_PER_SECOND callback and batch_end events a second, counts the rest and says so", async () => {
    let now = 0;
    const { jobId, events } = await openLog({ maxPerSecond: 5, now: () => now });
    events.append("status", { status: "running" });
    const seqs: (number | null)[] = [];
    for (let batch = 0; batch < 100; batch++) {
      seqs.push(events.append("callback", log(batch), { epoch: 0, batch }));
      events.append("batch_end", { logs: { loss: batch } }, { epoch: 0, batch });
    }
    for (let epoch = 0; epoch < 10; epoch++) events.append("epoch_end", { logs: { loss: epoch } }, { epoch });
    const checkpoint = { id: "c", name: "n", monitor: null, value: null, is_best: false, weights_only: true };
    events.append("checkpoint", { ...checkpoint, size_bytes: 1 }, { epoch: 9 });
    expect(seqs.filter((seq) => seq === null)).toHaveLength(95);

    now = 1000; // the next second: its first event closes the window and is stored after the report
    events.append("callback", log(100), { epoch: 1, batch: 0 });
    await events.close();

    const rows = await stored(jobId);
    expect(rows.map((e) => e.seq)).toEqual(rows.map((_, i) => i + 1));
    const count = (type: string) => rows.filter((e) => e.type === type).length;
    expect(count("status")).toBe(1);
    expect(count("epoch_end")).toBe(10);
    expect(count("checkpoint")).toBe(1);
    expect(count("batch_end")).toBe(5);
    const logs = rows.filter((e) => (e.data as { action?: string }).action === "log");
    expect(logs.map((e) => e.batch)).toEqual([0, 1, 2, 3, 4, 0]);
    const [notice] = dropNotices(rows);
    expect(dropNotices(rows)).toHaveLength(1);
    expect(notice).toMatchObject({
      type: "callback",
      epoch: 0,
      data: {
        callback: "Plateau",
        action: "events_dropped",
        details: { count: 190, per_second: 5, by_type: { callback: 95, batch_end: 95 } },
      },
    });
    // The report comes after the second's stored events and before the next second's.
    expect(notice.seq).toBe(logs.at(-1)!.seq - 1);
  });

  it("reports a flood when its second ends, and before the job's terminal status", async () => {
    const { jobId, events } = await openLog({ maxPerSecond: 2 });
    for (let batch = 0; batch < 10; batch++) events.append("callback", log(batch), { epoch: 0, batch });
    // Nothing else happens: the window's own timer reports it.
    const deadline = Date.now() + 5000;
    let rows = await stored(jobId);
    while (dropNotices(rows).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      rows = await stored(jobId);
    }
    expect(dropNotices(rows).map((e) => (e.data as { details: unknown }).details)).toEqual([
      expect.objectContaining({ count: 8, per_second: 2 }),
    ]);

    for (let batch = 0; batch < 10; batch++) events.append("callback", log(batch), { epoch: 1, batch });
    events.append("status", { status: "succeeded", stop_reason: "completed" });
    await events.close();
    rows = await stored(jobId);
    expect(rows.at(-1)?.type).toBe("status");
    expect(rows.at(-2)?.data).toMatchObject({ action: "events_dropped", details: { count: 8 } });
  });

  it("cuts every string of an event to 2,000 characters, saying how long it was", async () => {
    const { jobId, events } = await openLog();
    const message = "x".repeat(100_000);
    events.append("callback", { callback: "Rule", action: "log", details: { message, values: { lr: 1 } } });
    events.append("status", { status: "failed", stop_reason: "error", error: `bad spec: ${message}` });
    await events.close();
    const [callback, status] = await stored(jobId);
    const details = (callback.data as { details: { message: string; values: unknown } }).details;
    expect(details.message).toHaveLength(2000);
    expect(details.message.endsWith("x… (100000 characters)")).toBe(true);
    expect(details.values).toEqual({ lr: 1 });
    const { error } = status.data as { error: string };
    expect(error).toHaveLength(2000);
    expect(error.startsWith("bad spec: xxx")).toBe(true);
    expect(error.endsWith("… (100010 characters)")).toBe(true);
  });
});
