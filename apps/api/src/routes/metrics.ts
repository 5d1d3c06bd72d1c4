import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { MetricsPageSchema, MetricsQuerySchema, type MetricsRow } from "@plateau/contract";
import { downsampledMetrics, eventsAfter } from "@plateau/db";
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
          "Poll with after = next_after: each row comes exactly once, in order. next_after stays put while there is nothing new. " +
          "With max_points, one answer covers every row after `after`, downsampled per series (min/max per bucket).",
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
      const { after, limit, level, max_points: maxPoints } = request.query;
      await findJob(db, id, callerOf(request).tenantId);
      const type = level === "batch" ? "batch_end" : "epoch_end";
      if (maxPoints !== undefined) {
        const sample = await downsampledMetrics(db, id, { type, after, maxPoints });
        return { items: sample.rows.map(metricsRow), next_after: sample.lastSeq ?? after };
      }
      const rows = await eventsAfter(db, id, after, { limit, types: [type] });
      return {
        items: rows.map((row) =>
          metricsRow({ ...row, logs: (row.data as { logs?: MetricsRow["logs"] }).logs ?? {} }),
        ),
        next_after: rows.at(-1)?.seq ?? after,
      };
    },
  );
};

function metricsRow(row: Omit<MetricsRow, "time"> & { createdAt: Date }): MetricsRow {
  return {
    seq: row.seq,
    epoch: row.epoch,
    batch: row.batch,
    logs: row.logs,
    time: row.createdAt.toISOString(),
  };
}
