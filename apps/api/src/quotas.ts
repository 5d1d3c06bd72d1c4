import type { DbClient } from "@plateau/db";
import { ApiError } from "./errors";

/** Seconds a client is told to wait before submitting again once its tenant is at its quota. */
const QUOTA_RETRY_AFTER_S = 30;

/**
 * Inside the transaction that stores new jobs, before counting them: a transaction-scoped advisory lock
 * per tenant, held until commit, so two transactions cannot both take a tenant's last place. Locks are
 * taken in one order (sorted ids), so two batches never deadlock.
 */
export async function lockActiveJobQuotas(tx: DbClient, tenantIds: string[]): Promise<void> {
  for (const tenantId of [...new Set(tenantIds)].sort()) {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${tenantId}, 0))`;
  }
}

/** The 429 for a submission that would take a tenant past MAX_ACTIVE_JOBS_PER_TENANT. */
export function quotaExceeded(active: number, limit: number): ApiError {
  return new ApiError(
    429,
    "quota_exceeded",
    `This tenant has ${active} queued or running jobs, the most it may have (MAX_ACTIVE_JOBS_PER_TENANT = ${limit}); wait for one to finish or cancel one, then submit again.`,
    [],
    { "retry-after": String(QUOTA_RETRY_AFTER_S) },
  );
}
