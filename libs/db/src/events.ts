import type { EventType } from "@plateau/contract";
import type { DbClient } from "./client";
import type { JobEvent, Prisma } from "./generated/prisma/client";

export interface NewEvent {
  jobId: string;
  /** Assigned by the worker, increasing per job; (jobId, seq) identifies the event. */
  seq: number;
  type: EventType;
  epoch?: number | null;
  batch?: number | null;
  data: Prisma.InputJsonValue;
  /** When it happened; defaults to when it is written. */
  createdAt?: Date;
  /** The attempt that wrote it; none for the API's own events. */
  attempt?: number | null;
}

/**
 * Writes a batch of events as one multi-row INSERT … ON CONFLICT DO NOTHING, so a flush that is
 * retried (or overlaps one that succeeded) neither fails nor duplicates. Returns how many rows were
 * new.
 */
export async function appendEvents(db: DbClient, events: NewEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const { count } = await db.jobEvent.createMany({ data: events, skipDuplicates: true });
  return count;
}

/**
 * Events with seq > afterSeq in seq order, optionally only some types: the metrics and SSE backfill query.
 * Rows a resumed attempt rolled back are not part of the history.
 */
export function eventsAfter(
  db: DbClient,
  jobId: string,
  afterSeq: number,
  options: { limit: number; types?: EventType[] },
): Promise<JobEvent[]> {
  return db.jobEvent.findMany({
    where: {
      jobId,
      seq: { gt: afterSeq },
      supersededBy: null,
      ...(options.types && { type: { in: options.types } }),
    },
    orderBy: { seq: "asc" },
    take: options.limit,
  });
}

/** The highest seq written for the job (rolled-back rows included: seqs never repeat), or null when none. */
export async function lastSeq(db: DbClient, jobId: string): Promise<number | null> {
  const { _max } = await db.jobEvent.aggregate({ where: { jobId }, _max: { seq: true } });
  return _max.seq;
}
