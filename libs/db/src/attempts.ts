import type { Db, DbClient } from "./client";
import type { JobAttempt, Prisma } from "./generated/prisma/client";

/** How an attempt ended (`job_attempts.ending`). */
export type AttemptEnding =
  | "completed"
  | "worker_lost"
  | "shutdown"
  | "trainer_crashed"
  | "lock_lost"
  | "error";

/** Where a resumed attempt continues: the newest complete snapshot, written before this pointer. */
export interface ResumePoint {
  /** The snapshot's S3 key. */
  key: string;
  /** Epochs it has finished: training continues at this epoch index… */
  epoch: number;
  /** …after this many of its batches (absent: 0, the epoch's start). */
  batch?: number;
  /** The attempt that wrote it. */
  attempt: number;
  /** The last event that attempt had written when it took the snapshot (absent: none of `epoch`'s). */
  seq?: number;
}

/** Every attempt of the job, first first. */
export function listAttempts(db: DbClient, jobId: string): Promise<JobAttempt[]> {
  return db.jobAttempt.findMany({ where: { jobId }, orderBy: { attempt: "asc" } });
}

/** Records how an attempt ended; an attempt already ended keeps its first ending. */
export async function endAttempt(
  db: DbClient,
  jobId: string,
  attempt: number,
  ending: AttemptEnding,
  detail?: string,
): Promise<void> {
  await db.jobAttempt.updateMany({
    where: { jobId, attempt, endedAt: null },
    data: { endedAt: new Date(), ending, detail: detail?.slice(0, 2000) },
  });
}

/** Points the job at a newer snapshot, unless a newer attempt owns the job; false when it does. */
export async function setResumePoint(db: DbClient, jobId: string, point: ResumePoint): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: { id: jobId, attempt: point.attempt, status: "running" },
    data: { resumePoint: point as unknown as Prisma.InputJsonValue },
  });
  return count === 1;
}

/**
 * A resumed attempt continues from a snapshot taken inside or at the start of epoch `point.epoch`: what
 * earlier attempts recorded after it is rolled back, as if it never happened — their events of later
 * epochs and those of that epoch written after the snapshot (`point.seq`). Those events stay stored,
 * marked superseded by this attempt (readers skip them), their checkpoint rows go (the resumed run saves
 * them again), and the job's best is again the best checkpoint left. No point: everything from epoch 0.
 */
export async function rollBackTo(
  db: Db,
  jobId: string,
  attempt: number,
  point: Pick<ResumePoint, "epoch" | "batch" | "seq"> | null,
): Promise<{ events: number; checkpoints: number }> {
  const epoch = point?.epoch ?? 0;
  return db.$transaction(async (tx) => {
    const events = await tx.jobEvent.updateMany({
      where: {
        jobId,
        supersededBy: null,
        attempt: { lt: attempt },
        OR: [{ epoch: { gt: epoch } }, { epoch, seq: { gt: point?.seq ?? 0 } }],
      },
      data: { supersededBy: attempt },
    });
    const checkpoints = await tx.checkpoint.deleteMany({ where: { jobId, epoch: { gte: epoch } } });
    const best =
      (await tx.checkpoint.findFirst({ where: { jobId, isBest: true } })) ?? (await markLastBest(tx, jobId));
    await tx.job.update({
      where: { id: jobId },
      data: {
        epoch: epoch > 0 ? epoch - 1 : null,
        bestMonitor: best?.monitor ?? null,
        bestValue: best?.value ?? null,
        bestEpoch: best?.epoch ?? null,
      },
    });
    await tx.jobAttempt.updateMany({
      where: { jobId, attempt },
      data: { resumedFromEpoch: point ? epoch : null, resumedFromBatch: point ? (point.batch ?? 0) : null },
    });
    return { events: events.count, checkpoints: checkpoints.count };
  });
}

/**
 * Only one checkpoint row carries the best mark; when rolling back deleted it, the mark goes back to the
 * newest checkpoint still stored whose save announced it as best.
 */
async function markLastBest(tx: Prisma.TransactionClient, jobId: string) {
  const announced = await tx.jobEvent.findMany({
    where: { jobId, type: "checkpoint", supersededBy: null },
    orderBy: { seq: "desc" },
    select: { data: true },
  });
  const names = announced
    .map((event) => event.data as { name?: string; is_best?: boolean })
    .filter((data) => data.is_best && data.name !== undefined)
    .map((data) => data.name as string);
  const rows = await tx.checkpoint.findMany({ where: { jobId, name: { in: names } } });
  const best = names.map((name) => rows.find((row) => row.name === name)).find((row) => row !== undefined);
  if (!best) return null;
  return tx.checkpoint.update({ where: { id: best.id }, data: { isBest: true } });
}
