import type { DbClient } from "@plateau/db";
import { ApiError } from "./errors";

/** Seconds a client is told to wait before submitting again once its tenant is at its quota. */
const QUOTA_RETRY_AFTER_S = 30;

/**
 * Inside the transaction that stores a new job: fails with 429 when the tenant already has `limit`
 * queued or running jobs. A transaction-scoped advisory lock per tenant serializes concurrent
 * submissions of one tenant, so two of them cannot both take the last place.
 */
export async function holdActiveJobQuota(tx: DbClient, tenantId: string, limit: number): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${tenantId}, 0))`;
  const active = await tx.job.count({ where: { tenantId, status: { in: ["queued", "running"] } } });
  if (active >= limit) {
    throw new ApiError(
      429,
      "quota_exceeded",
      `This tenant has ${active} queued or running jobs, the most it may have (MAX_ACTIVE_JOBS_PER_TENANT = ${limit}); wait for one to finish or cancel one, then submit again.`,
      [],
      { "retry-after": String(QUOTA_RETRY_AFTER_S) },
    );
  }
}
