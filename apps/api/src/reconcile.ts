import { queuedJobIds } from "@plateau/db";
import { enqueueTraining } from "@plateau/queue";
import type { ApiDeps } from "./deps";

/**
 * Postgres is the source of truth: every job it holds as `queued` must be in the queue. Re-adding is
 * idempotent (the BullMQ job id is the job id), so this repairs a Redis that lost its data or an enqueue
 * that failed after the row was stored, and is safe to run from every API instance at start.
 */
export async function reconcileQueue(deps: Pick<ApiDeps, "db" | "queue">): Promise<number> {
  const ids = await queuedJobIds(deps.db);
  for (const id of ids) await enqueueTraining(deps.queue, id);
  return ids.length;
}
