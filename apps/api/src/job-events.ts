import type { Config } from "@plateau/config";
import {
  appendEvents,
  type Db,
  lastSeq,
  type NewEvent,
  type Prisma,
  type JobEvent as Row,
} from "@plateau/db";
import { jobEventsChannel } from "@plateau/queue";
import type { JobEvent, StatusData } from "@plateau/spec";
import type { Redis } from "ioredis";

/** A job_events row as the API serves it and as it travels on Redis. */
export function toWire(row: Row): JobEvent {
  return {
    seq: row.seq,
    type: row.type as JobEvent["type"],
    epoch: row.epoch,
    batch: row.batch,
    data: row.data as JobEvent["data"],
    time: row.createdAt.toISOString(),
  };
}

/**
 * Appends the next `status` event and publishes it after it is persisted (the event-stream contract).
 * Only for a job no worker holds: while a worker runs the job, it alone assigns seqs.
 */
export async function appendStatus(
  deps: { db: Db; redis: Redis; config: Pick<Config, "REDIS_PREFIX"> },
  jobId: string,
  data: StatusData,
): Promise<void> {
  const event: NewEvent = {
    jobId,
    seq: ((await lastSeq(deps.db, jobId)) ?? 0) + 1,
    type: "status",
    data: data as Prisma.InputJsonObject,
    createdAt: new Date(),
  };
  await appendEvents(deps.db, [event]);
  const wire: JobEvent = {
    seq: event.seq,
    type: "status",
    epoch: null,
    batch: null,
    data,
    time: event.createdAt!.toISOString(),
  };
  await deps.redis.publish(jobEventsChannel(deps.config, jobId), JSON.stringify(wire));
}
