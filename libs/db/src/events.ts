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
 * Writes a batch of events as one INSERT … ON CONFLICT DO NOTHING, so a flush that is retried (or
 * overlaps one that succeeded) neither fails nor duplicates. Returns how many rows were new.
 *
 * The batch travels as one JSON parameter that Postgres unpacks into rows: Prisma's createMany binds each
 * column of each row as a parameter of its own, and building and binding those made ingest ~10× slower
 * than Postgres can write (`npm run bench -- ingest`).
 */
export async function appendEvents(db: DbClient, events: NewEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const now = new Date();
  const rows = JSON.stringify(
    events.map((event) => ({
      job_id: event.jobId,
      seq: event.seq,
      type: event.type,
      epoch: event.epoch ?? null,
      batch: event.batch ?? null,
      data: event.data,
      created_at: event.createdAt ?? now,
      attempt: event.attempt ?? null,
    })),
  );
  return db.$executeRaw`
    INSERT INTO job_events (job_id, seq, type, epoch, batch, data, created_at, attempt)
    SELECT job_id, seq, type, epoch, batch, data, created_at, attempt
    FROM json_to_recordset(${rows}::json) AS row(
      job_id uuid, seq int, type text, epoch int, batch int, data jsonb, created_at timestamptz, attempt int
    )
    ON CONFLICT (job_id, seq) DO NOTHING`;
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
