import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { MetricsPageSchema, MetricsQuerySchema } from "@plateau/contract";
import { eventsAfter } from "@plateau/db";
import { callerOf } from "../auth";
import type { ApiDeps } from "../deps";
import { ErrorRef } from "../errors";
import { findJob, JobIdParams } from "../job-params";

/** A job's metrics: the epoch_end / batch_end rows of its event stream, paged by seq. */
export const metricsRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, { db }) => {
  app.get(
    "/v1/jobs/:id/metrics",
    {
      schema: {
        tags: ["jobs"],
        summary: "A job's metrics in order",
        description:
          "Poll with after = next_after: each row comes exactly once, in order. next_after stays put while there is nothing new.",
        params: JobIdParams,
        querystring: MetricsQuerySchema,
        response: {
          200: MetricsPageSchema,
          400: ErrorRef,
          404: ErrorRef,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { after, limit, level } = request.query;
      await findJob(db, id, callerOf(request).tenantId);
      const rows = await eventsAfter(db, id, after, {
        limit,
        types: [level === "batch" ? "batch_end" : "epoch_end"],
      });
      return {
        items: rows.map((row) => ({
          seq: row.seq,
          epoch: row.epoch,
          batch: row.batch,
          logs: (row.data as { logs?: Record<string, number | null> }).logs ?? {},
          time: row.createdAt.toISOString(),
        })),
        next_after: rows.at(-1)?.seq ?? after,
      };
    },
  );
};
