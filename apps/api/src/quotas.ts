import type { DbClient } from "@plateau/db";
import { ApiError } from "./errors";

/** Seconds a client is told to wait before submitting again once its tenant is at its quota. */
const QUOTA_RETRY_AFTER_S = 30;

/**
 * Inside the transaction that stores new jobs: each tenant's count of queued or running jobs, with a
 * transaction-scoped advisory lock per tenant held until commit, so two transactions cannot both take a
 * tenant's last place. Locks are taken in one order (sorted ids), so two batches never deadlock.
 */
export async function holdActiveJobCounts(tx: DbClient, tenantIds: string[]): Promise<Map<string, number>> {
  const tenants = [...new Set(tenantIds)].sort();
  for (const tenantId of tenants) {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${tenantId}, 0))`;
  }
  // A statement of its own after the locks: its snapshot then sees every job committed before them.
  const rows = await tx.$queryRaw<{ tenant_id: string; active: number }[]>`
    SELECT tenant_id::text, count(*)::int AS active FROM jobs
    WHERE tenant_id = ANY(${tenants}::uuid[]) AND status IN ('queued', 'running')
    GROUP BY tenant_id`;
  const counts = new Map(tenants.map((tenantId) => [tenantId, 0]));
  for (const row of rows) counts.set(row.tenant_id, row.active);
  return counts;
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
