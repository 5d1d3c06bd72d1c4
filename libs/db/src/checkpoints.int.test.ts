import { loadConfig } from "@plateau/config";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestTenant } from "../../../test/tenants";
import {
  bestCheckpoint,
  getCheckpoint,
  listCheckpoints,
  type NewCheckpoint,
  recordCheckpoint,
} from "./checkpoints";
import { createDb } from "./client";
import { createDataset, getDataset } from "./datasets";
import { createJob } from "./jobs";

const db = createDb(loadConfig().DATABASE_URL);
afterAll(() => db.$disconnect());
let tenantId: string;
beforeAll(async () => {
  tenantId = (await createTestTenant(db, "db-checkpoints")).id;
});

let jobId: string;
beforeEach(async () => {
  jobId = (await createJob(db, { tenantId, name: "checkpoints", spec: {}, epochs: 5 })).id;
});

const saved = (epoch: number, value: number, isBest: boolean, name = `epoch-${epoch}`): NewCheckpoint => ({
  jobId,
  name,
  epoch,
  monitor: "val_loss",
  value,
  isBest,
  weightsOnly: true,
  sizeBytes: 5_000_000_000,
});

describe("checkpoints", () => {
  it("has no best before the first save", async () => {
    expect(await bestCheckpoint(db, jobId)).toBeNull();
    expect(await listCheckpoints(db, jobId)).toEqual([]);
  });

  it("keeps one best per job, moving the mark to the newer best", async () => {
    await recordCheckpoint(db, saved(1, 0.9, true));
    await recordCheckpoint(db, saved(2, 0.5, true));
    await recordCheckpoint(db, saved(3, 0.7, false));
    expect(await bestCheckpoint(db, jobId)).toMatchObject({
      epoch: 2,
      value: 0.5,
      sizeBytes: 5_000_000_000n,
    });
    const all = await listCheckpoints(db, jobId);
    expect(all.map((c) => [c.epoch, c.isBest])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
  });

  it("replaces the row when a checkpoint is saved again under the same name", async () => {
    await recordCheckpoint(db, saved(1, 0.9, true, "best"));
    await recordCheckpoint(db, saved(4, 0.3, true, "best"));
    const all = await listCheckpoints(db, jobId);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ name: "best", epoch: 4, value: 0.3, isBest: true });
  });

  it("finds a checkpoint by id only under its own job", async () => {
    const row = await recordCheckpoint(db, saved(1, 0.9, true));
    expect(await getCheckpoint(db, jobId, row.id)).toEqual(row);
    const other = (await createJob(db, { tenantId, name: "other", spec: {}, epochs: 5 })).id;
    expect(await getCheckpoint(db, other, row.id)).toBeNull();
  });

  it("does not touch another job's best", async () => {
    const other = (await createJob(db, { tenantId, name: "other", spec: {}, epochs: 1 })).id;
    await recordCheckpoint(db, { ...saved(1, 0.1, true), jobId: other });
    await recordCheckpoint(db, saved(1, 0.9, true));
    expect(await bestCheckpoint(db, other)).toMatchObject({ jobId: other, value: 0.1 });
  });
});

describe("datasets", () => {
  it("stores and returns an uploaded dataset's description", async () => {
    const dataset = await createDataset(db, {
      tenantId,
      filename: "train.csv",
      format: "csv",
      key: "datasets/x/train.csv",
      sizeBytes: 1234,
      columns: ["a", "b", "label"],
      rows: 10,
    });
    expect(await getDataset(db, dataset.id)).toMatchObject({
      columns: ["a", "b", "label"],
      sizeBytes: 1234n,
      rows: 10,
    });
  });
});
