import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTenant } from "../../../test/tenants";
import { listAttempts } from "./attempts";
import { createDb } from "./client";
import type { Job } from "./generated/prisma/client";
import {
  createJob,
  finishJob,
  getJob,
  InvalidCursorError,
  listJobs,
  markRunning,
  requestCancel,
  updateProgress,
} from "./jobs";

const db = createDb(loadConfig().DATABASE_URL);
afterAll(() => db.$disconnect());
let tenantId: string;
beforeAll(async () => {
  tenantId = (await createTestTenant(db, "db-jobs")).id;
});

const newJob = () => createJob(db, { tenantId, name: "iris", spec: { fit: { epochs: 3 } }, epochs: 3 });
const worker = { backend: "cpu", worker: "host-1:42" };

/** Walks every page and keeps our jobs only: other test files share the database. */
async function walk(ours: Set<string>, options: { status?: Job["status"]; limit: number }) {
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listJobs(db, { ...options, tenantId, cursor });
    expect(page.items.length).toBeLessThanOrEqual(options.limit);
    seen.push(...page.items.map((j) => j.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  expect(new Set(seen).size).toBe(seen.length);
  return seen.filter((id) => ours.has(id));
}

describe("listJobs", () => {
  // Far-future creation times put these jobs first, with ties that only the id can order.
  const times = [
    "2100-01-03",
    "2100-01-02",
    "2100-01-02",
    "2100-01-02",
    "2100-01-01",
    "2100-01-01",
    "2099-12-31",
  ];
  const jobs = times.map((time, i) => ({
    id: randomUUID(),
    name: `page-${i}`,
    spec: {},
    epochs: 1,
    createdAt: new Date(`${time}T00:00:00.000Z`),
    status: i % 2 === 0 ? ("running" as const) : ("queued" as const),
  }));
  const newestFirst = [...jobs]
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
    .map((j) => j.id);
  const ours = new Set(jobs.map((j) => j.id));

  it("pages newest first with ties broken by id, never repeating or skipping a job", async () => {
    await db.job.createMany({ data: jobs.map((job) => ({ ...job, tenantId })) });
    for (const limit of [1, 2, 3, 100]) {
      expect(await walk(ours, { limit })).toEqual(newestFirst);
    }
  });

  it("filters by status across pages", async () => {
    const running = newestFirst.filter((id) => jobs.find((j) => j.id === id)!.status === "running");
    expect(await walk(ours, { status: "running", limit: 2 })).toEqual(running);
  });

  it("continues where the cursor points even when newer jobs arrive between pages", async () => {
    const first = await listJobs(db, { tenantId, limit: 2 });
    expect(first.items.map((j) => j.id)).toEqual(newestFirst.slice(0, 2));
    await db.job.create({
      data: {
        id: randomUUID(),
        tenantId,
        name: "late",
        spec: {},
        epochs: 1,
        createdAt: new Date("2100-02-01T00:00:00Z"),
      },
    });
    const second = await listJobs(db, { tenantId, limit: 2, cursor: first.nextCursor! });
    expect(second.items.map((j) => j.id)).toEqual(newestFirst.slice(2, 4));
  });

  it("rejects a cursor it did not issue", async () => {
    await expect(listJobs(db, { tenantId, limit: 2, cursor: "not-a-cursor" })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
    const forged = Buffer.from("2100-01-01T00:00:00.000Z|1 OR 1=1").toString("base64url");
    await expect(listJobs(db, { tenantId, limit: 2, cursor: forged })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
  });
});

describe("job state transitions", () => {
  it("starts a queued job, recording backend, worker and start time", async () => {
    const job = await newJob();
    expect(job.status).toBe("queued");
    expect(await markRunning(db, job.id, worker)).toMatchObject({ status: "running" });
    const running = await getJob(db, job.id);
    expect(running).toMatchObject({ status: "running", backend: "cpu", worker: "host-1:42" });
    expect(running!.startedAt).toBeInstanceOf(Date);
  });

  it("lets a redelivered attempt take over a running job as a new attempt; the job keeps its first start", async () => {
    const job = await newJob();
    const first = (await markRunning(db, job.id, worker))!;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const retry = { backend: "wasm", worker: "host-2:7" };
    const takenOver = await markRunning(db, job.id, retry);
    expect(takenOver).toMatchObject({ status: "running", backend: "wasm", worker: "host-2:7", attempt: 2 });
    expect(takenOver!.startedAt).toEqual(first.startedAt);
    expect(await getJob(db, job.id)).toMatchObject({ status: "running", ...retry });
    const attempts = await listAttempts(db, job.id);
    expect(attempts.map((a) => [a.attempt, a.worker, a.ending])).toEqual([
      [1, worker.worker, "worker_lost"],
      [2, retry.worker, null],
    ]);
    expect(attempts[1].startedAt.getTime()).toBeGreaterThan(attempts[0].startedAt.getTime());
    // The first attempt's worker no longer owns the job: it can neither end it nor move its progress.
    expect(await finishJob(db, job.id, { stopReason: "completed" }, 1)).toBeNull();
    expect(await updateProgress(db, job.id, { epoch: 3, learningRate: 0.1 }, 1)).toBe(false);
    expect(await finishJob(db, job.id, { stopReason: "completed" }, 2)).toMatchObject({
      status: "succeeded",
    });
  });

  it("finishes a job once; the first outcome stands and sets the status its stop reason implies", async () => {
    const job = await newJob();
    await markRunning(db, job.id, worker);
    const finished = await finishJob(db, job.id, { stopReason: "early_stopping", epoch: 7 });
    expect(finished).toMatchObject({ status: "succeeded", stopReason: "early_stopping", epoch: 7 });
    expect(finished!.finishedAt).toBeInstanceOf(Date);
    expect(await finishJob(db, job.id, { stopReason: "error", error: "late" })).toBeNull();
    expect(await getJob(db, job.id)).toMatchObject({ status: "succeeded", error: null });
    expect(await markRunning(db, job.id, worker)).toBeNull();
  });

  it("stores an error of at most 2,000 characters: the start, then the total length", async () => {
    const job = await newJob();
    await markRunning(db, job.id, worker);
    const quoted = `ModelCheckpoint filepath rendered to "${"0".repeat(1_000_000)}"`;
    await finishJob(db, job.id, { stopReason: "error", error: quoted });
    const { error } = (await getJob(db, job.id))!;
    expect(error).toHaveLength(2000);
    expect(error!.startsWith('ModelCheckpoint filepath rendered to "000')).toBe(true);
    expect(error!.endsWith(`0… (${quoted.length} characters)`)).toBe(true);
  });

  it("maps every stop reason to its status", async () => {
    const expected = {
      completed: "succeeded",
      early_stopping: "succeeded",
      nan_loss: "cancelled",
      user_cancel: "cancelled",
      error: "failed",
    } as const;
    for (const [stopReason, status] of Object.entries(expected)) {
      const job = await newJob();
      await markRunning(db, job.id, worker);
      const details = { batch: 3 };
      const finished = await finishJob(db, job.id, {
        stopReason: stopReason as keyof typeof expected,
        stopDetails: details,
      });
      expect(finished).toMatchObject({ status, stopReason, stopDetails: details });
    }
  });

  it("cancels a queued job at once, and a worker then cannot start it", async () => {
    const job = await newJob();
    const result = await requestCancel(db, job.id, { tenantId });
    expect(result.outcome).toBe("cancelled");
    expect(await getJob(db, job.id)).toMatchObject({ status: "cancelled", stopReason: "user_cancel" });
    expect(await markRunning(db, job.id, worker)).toBeNull();
  });

  it("marks a running job for cancel and keeps the first request's time", async () => {
    const job = await newJob();
    await markRunning(db, job.id, worker);
    const first = await requestCancel(db, job.id, { tenantId });
    expect(first.outcome).toBe("cancel_requested");
    const requestedAt = first.outcome === "cancel_requested" ? first.job.cancelRequestedAt : null;
    expect(requestedAt).toBeInstanceOf(Date);
    const second = await requestCancel(db, job.id, { tenantId });
    expect(second).toMatchObject({
      outcome: "cancel_requested",
      job: { status: "running", cancelRequestedAt: requestedAt },
    });
  });

  it("reports finished and unknown jobs instead of cancelling them", async () => {
    const job = await newJob();
    await markRunning(db, job.id, worker);
    await finishJob(db, job.id, { stopReason: "completed" });
    expect(await requestCancel(db, job.id, { tenantId })).toMatchObject({
      outcome: "already_finished",
      job: { status: "succeeded" },
    });
    expect(await requestCancel(db, randomUUID(), { tenantId })).toEqual({ outcome: "not_found" });
  });

  it("treats another tenant's job as unknown: no cancel, no read", async () => {
    const job = await newJob();
    const stranger = { tenantId: (await createTestTenant(db, "db-stranger")).id };
    expect(await requestCancel(db, job.id, stranger)).toEqual({ outcome: "not_found" });
    expect(await getJob(db, job.id, stranger.tenantId)).toBeNull();
    expect(await getJob(db, job.id, tenantId)).toMatchObject({ status: "queued", cancelledBy: null });
  });

  it("updates progress only while the job runs", async () => {
    const job = await newJob();
    expect(await updateProgress(db, job.id, { epoch: 1 })).toBe(false);
    await markRunning(db, job.id, worker);
    const best = { monitor: "val_loss", value: 0.25, epoch: 2 };
    expect(await updateProgress(db, job.id, { epoch: 2, learningRate: 0.01, best })).toBe(true);
    expect(await updateProgress(db, job.id, { epoch: 3, learningRate: 0.002 })).toBe(true);
    expect(await getJob(db, job.id)).toMatchObject({
      epoch: 3,
      learningRate: 0.002,
      bestMonitor: "val_loss",
      bestValue: 0.25,
      bestEpoch: 2,
    });
  });
});
