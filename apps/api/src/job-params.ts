import { Uuid } from "@plateau/contract";
import { type Db, getJob, type Job } from "@plateau/db";
import Type from "typebox";
import { ApiError } from "./errors";

/** Path parameters of every /v1/jobs/:id/... route. */
export const JobIdParams = Type.Object({ id: Uuid });

/**
 * The tenant's job, or a 404 in the error shape every /v1/jobs/:id/... route answers with: another
 * tenant's job is answered exactly as one that does not exist.
 */
export async function findJob(db: Db, id: string, tenantId: string): Promise<Job> {
  const job = await getJob(db, id, tenantId);
  if (!job) throw new ApiError(404, "not_found", `There is no job ${id}; list jobs with GET /v1/jobs.`);
  return job;
}
