import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  CancelResultSchema,
  type DataSource,
  DryRunResultSchema,
  type Issue,
  type Job,
  JobPageSchema,
  JobSchema,
  type JobSpec,
  JobSpecSchema,
  ListJobsQuerySchema,
  SubmitJobQuerySchema,
} from "@plateau/contract";
import { type Db, getDataset, InvalidCursorError, listAttempts, listJobs, requestCancel } from "@plateau/db";
import { cancelChannel, removeQueued } from "@plateau/queue";
import { validateJobSpec } from "@plateau/spec";
import { bodyCheckedByHandler } from "../app";
import { type Caller, callerOf } from "../auth";
import { datasetSourceIssues } from "../dataset-fields";
import type { ApiDeps } from "../deps";
import { ApiError, ErrorRef } from "../errors";
import { claim, hashJson, type Idempotency, IdempotencyHeaders, replay } from "../idempotency";
import { appendStatus } from "../job-events";
import { findJob, JobIdParams } from "../job-params";
import { jobSummary, jobView } from "../job-view";
import { countModelParams } from "../model-check";
import { createSubmitter } from "../submissions";

/** Submit, read, list and cancel training jobs. */
export const jobRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, deps) => {
  const { db, queue, redis, config } = deps;
  const store = createSubmitter(deps);

  app.post(
    "/v1/jobs",
    {
      schema: {
        tags: ["jobs"],
        summary: "Submit a training job",
        description:
          "Validates the spec (schema, callbacks, monitors the job would log, model, limits) and queues it. " +
          "Every problem is reported at once, each with its JSON path; nothing is stored when there is one. " +
          "With ?dry_run=true it only validates: 200 with the effective spec, nothing stored or queued.",
        body: JobSpecSchema,
        querystring: SubmitJobQuerySchema,
        headers: IdempotencyHeaders,
        response: {
          200: DryRunResultSchema,
          201: JobSchema,
          400: ErrorRef,
          409: ErrorRef,
          413: ErrorRef,
          422: ErrorRef,
          429: ErrorRef,
        },
      },
      // The body schema documents the spec; validateJobSpec checks it, so that schema problems and
      // semantic ones (a monitor the job never logs, a layer tfjs lacks, limits) arrive in one answer.
      validatorCompiler: bodyCheckedByHandler,
    },
    async (request, reply) => {
      const body: unknown = request.body;
      const caller = callerOf(request);
      if (request.query.dry_run) return { valid: true as const, spec: await validSpec(caller, body) };
      const key = request.headers["idempotency-key"];
      if (key === undefined) return reply.code(201).send(await submit(caller, body, null));
      const requestHash = hashJson(body);
      const held = await claim(db, { tenantId: caller.tenantId, route: "POST /v1/jobs", key }, requestHash);
      if (!("complete" in held)) return replay(reply, key, held, requestHash);
      try {
        return reply.code(201).send(await submit(caller, body, { held, requestHash }));
      } catch (error) {
        await held.release();
        throw error;
      }
    },
  );

  /** Validates, stores and queues one job: a 201's body. */
  async function submit(
    caller: Caller,
    body: unknown,
    idempotency: { held: Idempotency; requestHash: string } | null,
  ): Promise<Job> {
    const spec = await validSpec(caller, body);
    return store({ tenantId: caller.tenantId, submittedBy: caller.keyId, spec, idempotency });
  }

  /** The effective spec, or a 400 listing every problem (schema, semantics, limits, datasets). */
  async function validSpec(caller: Caller, body: unknown): Promise<JobSpec> {
    const validation = await validateJobSpec(body, config, countModelParams, caller.tenantId);
    const issues = validation.ok
      ? await datasetIssues(db, validation.spec.data, caller.tenantId)
      : validation.issues;
    if (!validation.ok || issues.length > 0) {
      throw new ApiError(
        400,
        "invalid_spec",
        `The job spec has ${issues.length} problem${issues.length === 1 ? "" : "s"}: fix the fields listed in details. Nothing was queued.`,
        issues,
      );
    }
    return validation.spec;
  }

  app.get(
    "/v1/jobs",
    {
      schema: {
        tags: ["jobs"],
        summary: "List jobs, newest first",
        querystring: ListJobsQuerySchema,
        response: {
          200: JobPageSchema,
          400: ErrorRef,
        },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query;
      try {
        const page = await listJobs(db, { tenantId: callerOf(request).tenantId, status, limit, cursor });
        return { items: page.items.map(jobSummary), next_cursor: page.nextCursor };
      } catch (error) {
        if (!(error instanceof InvalidCursorError)) throw error;
        throw new ApiError(400, "invalid_cursor", error.message, [
          { path: "/querystring/cursor", message: "is not a cursor this API returned" },
        ]);
      }
    },
  );

  app.get(
    "/v1/jobs/:id",
    {
      schema: {
        tags: ["jobs"],
        summary: "A job's status, progress and effective spec",
        params: JobIdParams,
        response: { 200: JobSchema, 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const job = await findJob(db, request.params.id, callerOf(request).tenantId);
      return jobView(job, await listAttempts(db, job.id));
    },
  );

  app.post(
    "/v1/jobs/:id/cancel",
    {
      schema: {
        tags: ["jobs"],
        summary: "Cancel a job",
        description:
          "A queued job is removed from the queue and cancelled at once (status cancelled). A running job " +
          "is stopped by its worker at the next batch end (status stays running until then). A finished job is a 409.",
        params: JobIdParams,
        response: {
          202: CancelResultSchema,
          400: ErrorRef,
          404: ErrorRef,
          409: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const result = await requestCancel(db, id, callerOf(request));
      switch (result.outcome) {
        case "not_found":
          throw new ApiError(404, "not_found", `There is no job ${id}; list jobs with GET /v1/jobs.`);
        case "already_finished":
          throw new ApiError(
            409,
            "conflict",
            `Job ${id} has already finished (${result.job.status}, ${result.job.stopReason}); there is nothing to cancel.`,
          );
        case "cancelled":
          // No worker holds it, so the API writes its terminal event.
          await removeQueued(queue, id);
          await appendStatus(deps, id, { status: "cancelled", stop_reason: "user_cancel" });
          break;
        case "cancel_requested":
          await redis.publish(cancelChannel(config), id);
          break;
      }
      return reply.code(202).send({ id, status: result.job.status });
    },
  );
};

/**
 * A `dataset` source must name an uploaded dataset, and the columns or arrays it names must exist in it:
 * checked now, with the spec's paths, rather than failing the job on the worker.
 */
async function datasetIssues(db: Db, data: JobSpec["data"], tenantId: string): Promise<Issue[]> {
  const sources: [string, DataSource][] = [["/data", data]];
  if (data.validation) sources.push(["/data/validation", data.validation]);
  const issues: Issue[] = [];
  for (const [path, source] of sources) {
    if (source.source !== "dataset") continue;
    const dataset = await getDataset(db, source.id, tenantId);
    if (!dataset) {
      issues.push({
        path: `${path}/id`,
        message: `no dataset ${source.id}; upload one with POST /v1/datasets`,
      });
      continue;
    }
    issues.push(...datasetSourceIssues(dataset, source, path));
  }
  return issues;
}
