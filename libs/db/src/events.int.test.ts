import { loadConfig } from "@plateau/config";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestTenant } from "../../../test/tenants";
import { createDb } from "./client";
import { appendEvents, eventsAfter, lastSeq, type NewEvent } from "./events";
import { createJob } from "./jobs";

const db = createDb(loadConfig().DATABASE_URL);
afterAll(() => db.$disconnect());
let tenantId: string;
beforeAll(async () => {
  tenantId = (await createTestTenant(db, "db-events")).id;
});

let jobId: string;
beforeEach(async () => {
  jobId = (await createJob(db, { tenantId, name: "events", spec: {}, epochs: 5 })).id;
});

const epochEnd = (seq: number, loss: number): NewEvent => ({
  jobId,
  seq,
  type: seq % 3 === 0 ? "callback" : "epoch_end",
  epoch: seq,
  data: { loss },
});

describe("appendEvents", () => {
  it("writes each (job, seq) once; a retried or overlapping flush keeps the first rows", async () => {
    expect(
      await appendEvents(
        db,
        [1, 2, 3, 4, 5].map((seq) => epochEnd(seq, seq)),
      ),
    ).toBe(5);
    expect(
      await appendEvents(
        db,
        [3, 4, 5, 6, 7, 8].map((seq) => epochEnd(seq, 100 + seq)),
      ),
    ).toBe(3);
    expect(await appendEvents(db, [])).toBe(0);

    const rows = await eventsAfter(db, jobId, 0, { limit: 100 });
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows.map((r) => (r.data as { loss: number }).loss)).toEqual([1, 2, 3, 4, 5, 106, 107, 108]);
  });

  it("keeps the event time it is given", async () => {
    const at = new Date("2030-05-06T07:08:09.123Z");
    await appendEvents(db, [{ ...epochEnd(1, 0.5), createdAt: at }]);
    const [row] = await eventsAfter(db, jobId, 0, { limit: 1 });
    expect(row.createdAt).toEqual(at);
  });

  it("rejects events of a job that does not exist", async () => {
    await expect(
      appendEvents(db, [{ ...epochEnd(1, 1), jobId: "00000000-0000-4000-8000-000000000000" }]),
    ).rejects.toThrow();
  });
});

describe("eventsAfter", () => {
  it("pages by seq and filters by type", async () => {
    await appendEvents(
      db,
      [7, 1, 4, 2, 9, 3, 8, 6, 5].map((seq) => epochEnd(seq, seq)),
    );
    expect((await eventsAfter(db, jobId, 0, { limit: 4 })).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect((await eventsAfter(db, jobId, 4, { limit: 4 })).map((r) => r.seq)).toEqual([5, 6, 7, 8]);
    expect((await eventsAfter(db, jobId, 8, { limit: 4 })).map((r) => r.seq)).toEqual([9]);
    const metrics = await eventsAfter(db, jobId, 2, { limit: 100, types: ["epoch_end"] });
    expect(metrics.map((r) => r.seq)).toEqual([4, 5, 7, 8]);
  });
});

describe("lastSeq", () => {
  it("is null before the first event and the highest seq after", async () => {
    expect(await lastSeq(db, jobId)).toBeNull();
    await appendEvents(
      db,
      [3, 1, 2].map((seq) => epochEnd(seq, seq)),
    );
    expect(await lastSeq(db, jobId)).toBe(3);
  });
});
