import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { eventsAfter } from "@plateau/db";
import { Logs } from "@plateau/spec";
import Type from "typebox";
import type { ApiDeps } from "../deps";
import { findJob, JobIdParams } from "../job-params";
import { ErrorRef } from "../schemas";

const MetricsQuery = Type.Object({
  after: Type.Integer({ minimum: 0, default: 0, description: "next_after of the previous call (a seq)." }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  level: Type.Enum(["epoch", "batch"], {
    default: "epoch",
    description: "epoch: one row per epoch; batch: the sampled batch rows.",
  }),
});

const MetricsRow = Type.Object({
  seq: Type.Integer({ description: "Position in the job's event stream." }),
  epoch: Type.Union([Type.Integer(), Type.Null()], { description: "0-based, as Keras passes it." }),
  batch: Type.Union([Type.Integer(), Type.Null()]),
  logs: Logs,
  time: Type.String({ format: "date-time" }),
});

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
        querystring: MetricsQuery,
        response: {
          200: Type.Object({ items: Type.Array(MetricsRow), next_after: Type.Integer() }),
          400: ErrorRef,
          404: ErrorRef,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { after, limit, level } = request.query;
      await findJob(db, id);
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
