import { randomUUID } from "node:crypto";
import type { Db, DbClient } from "./client";
import type { Checkpoint } from "./generated/prisma/client";

export interface NewCheckpoint {
  jobId: string;
  /** Directory name under jobs/<job-id>/checkpoints/ (ModelCheckpoint's formatted filepath). */
  name: string;
  epoch: number;
  batch?: number | null;
  monitor?: string | null;
  value?: number | null;
  /** The job's best so far; the previous best loses the mark. */
  isBest: boolean;
  weightsOnly: boolean;
  sizeBytes: number | bigint;
}

/**
 * Records a saved checkpoint. Saving again under the same name (Keras overwrites a fixed filepath)
 * replaces the row, as the objects in S3 were replaced. At most one checkpoint per job is best.
 */
export function recordCheckpoint(db: Db, checkpoint: NewCheckpoint): Promise<Checkpoint> {
  const data = { ...checkpoint, sizeBytes: BigInt(checkpoint.sizeBytes), createdAt: new Date() };
  return db.$transaction(async (tx) => {
    if (checkpoint.isBest) {
      await tx.checkpoint.updateMany({
        where: { jobId: checkpoint.jobId, isBest: true, name: { not: checkpoint.name } },
        data: { isBest: false },
      });
    }
    return tx.checkpoint.upsert({
      where: { jobId_name: { jobId: checkpoint.jobId, name: checkpoint.name } },
      create: { ...data, id: randomUUID() },
      update: data,
    });
  });
}

/** Every checkpoint of the job, oldest first. */
export function listCheckpoints(db: DbClient, jobId: string): Promise<Checkpoint[]> {
  return db.checkpoint.findMany({ where: { jobId }, orderBy: [{ createdAt: "asc" }, { epoch: "asc" }] });
}

/** The checkpoint marked best, or null when the job has none (yet). */
export function bestCheckpoint(db: DbClient, jobId: string): Promise<Checkpoint | null> {
  return db.checkpoint.findFirst({ where: { jobId, isBest: true } });
}

/** One checkpoint of the job, or null when the job has no checkpoint with that id. */
export function getCheckpoint(db: DbClient, jobId: string, checkpointId: string): Promise<Checkpoint | null> {
  return db.checkpoint.findFirst({ where: { id: checkpointId, jobId } });
}
