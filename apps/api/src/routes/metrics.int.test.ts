import { loadConfig } from "@plateau/config";
import type { MetricsPage } from "@plateau/contract";
import { appendEvents, createJob, type NewEvent } from "@plateau/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../test-api";

const base = loadConfig();
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX: `${base.REDIS_PREFIX}-api-metrics` });
});
afterAll(() => api.close());

const ROWS = 3000;
/** A wavy, slowly falling loss with one spike up and one dip down, and a null (NaN) row. */
const lossAt = (i: number) =>
  i === 1234 ? 50 : i === 2345 ? -7 : i === 99 ? null : 2 - i / ROWS + 0.1 * Math.sin(i / 7);
const accAt = (i: number) => i / ROWS;

/** A job with ROWS batch rows (seq 2…ROWS+1) and 3 epoch rows, written as the worker writes them. */
async function jobWithRows(): Promise<string> {
  const job = await createJob(api.deps.db, { tenantId: api.tenant.id, name: "many", spec: {}, epochs: 3 });
  const events: NewEvent[] = [{ jobId: job.id, seq: 1, type: "status", data: { status: "running" } }];
  for (let i = 0; i < ROWS; i++) {
    events.push({
      jobId: job.id,
      seq: i + 2,
      type: "batch_end",
      epoch: Math.floor(i / 1000),
      batch: i % 1000,
      data: { logs: { loss: lossAt(i), acc: accAt(i) } },
    });
  }
  for (let epoch = 0; epoch < 3; epoch++) {
    events.push({
      jobId: job.id,
      seq: ROWS + 2 + epoch,
      type: "epoch_end",
      epoch,
      data: { logs: { loss: 1 - epoch / 10, val_loss: 1.1 - epoch / 10 } },
    });
  }
  await appendEvents(api.deps.db, events);
  return job.id;
}

async function metrics(id: string, query: string): Promise<MetricsPage> {
  const response = await api.inject(`/v1/jobs/${id}/metrics?${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<MetricsPage>();
}

function series(page: MetricsPage, key: string): [number, number][] {
  return page.items.flatMap((row) => (typeof row.logs[key] === "number" ? [[row.seq, row.logs[key]]] : []));
}

describe("GET /v1/jobs/:id/metrics?max_points", () => {
  let id: string;
  beforeAll(async () => {
    id = await jobWithRows();
  });

  it("keeps at most max_points per series, with each series' extremes, in seq order", async () => {
    const page = await metrics(id, "level=batch&max_points=100");
    const seqs = page.items.map((row) => row.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const loss = series(page, "loss");
    const acc = series(page, "acc");
    expect(loss.length).toBeLessThanOrEqual(100);
    expect(loss.length).toBeGreaterThanOrEqual(50);
    expect(acc.length).toBeLessThanOrEqual(100);
    // The spike and the dip survive; so do the first and last accuracy (its minimum and maximum).
    expect(loss).toContainEqual([1234 + 2, 50]);
    expect(loss).toContainEqual([2345 + 2, -7]);
    expect(acc[0]).toEqual([2, 0]);
    expect(acc.at(-1)).toEqual([ROWS + 1, (ROWS - 1) / ROWS]);
    // Every kept point is the row's real value, with the row's epoch and batch.
    for (const row of page.items) {
      const i = row.seq - 2;
      expect(row.epoch).toBe(Math.floor(i / 1000));
      expect(row.batch).toBe(i % 1000);
      if ("loss" in row.logs) expect(row.logs.loss).toBeCloseTo(lossAt(i) as number, 12);
      if ("acc" in row.logs) expect(row.logs.acc).toBeCloseTo(accAt(i), 12);
    }
    expect(page.next_after).toBe(ROWS + 1);
  });

  it("answers every row when they fit, like the pages do, and nothing new after next_after", async () => {
    const sampled = await metrics(id, "level=epoch&max_points=10");
    const paged = await metrics(id, "level=epoch");
    expect(sampled).toEqual(paged);
    expect(sampled.items.map((row) => row.epoch)).toEqual([0, 1, 2]);
    const after = await metrics(id, `level=epoch&max_points=10&after=${sampled.next_after}`);
    expect(after).toEqual({ items: [], next_after: sampled.next_after });
  });

  it("covers only the rows after `after`", async () => {
    const page = await metrics(id, "level=batch&max_points=1000&after=2501");
    expect(page.items.length).toBe(ROWS + 1 - 2501);
    expect(page.items[0].seq).toBe(2502);
    // The null (NaN) loss of row 99 is no point, in this window or any other.
    const all = await metrics(id, "level=batch&max_points=10000");
    expect(all.items.find((row) => row.seq === 101)?.logs).toEqual({ acc: accAt(99) });
  });

  it("refuses max_points outside 2…10,000 naming the field", async () => {
    for (const value of ["1", "10001", "1.5", "lots"]) {
      const response = await api.inject(`/v1/jobs/${id}/metrics?max_points=${value}`);
      expect(response.statusCode).toBe(400);
      expect(response.json().details).toEqual([
        expect.objectContaining({ path: expect.stringContaining("max_points") }),
      ]);
    }
  });
});
