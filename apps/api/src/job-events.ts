import type { Config } from "@plateau/config";
import { type StatusData, wireEvent } from "@plateau/contract";
import { appendEvents, type Db, lastSeq, type NewEvent, type Prisma } from "@plateau/db";
import { jobEventsChannel } from "@plateau/queue";
import type { Redis } from "ioredis";

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
  await deps.redis.publish(jobEventsChannel(deps.config, jobId), JSON.stringify([wireEvent(event)]));
}
