import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { WorkerListSchema } from "@plateau/contract";
import { listWorkers } from "@plateau/queue";
import type { ApiDeps } from "../deps";
import { ErrorRef } from "../errors";

/** GET /v1/workers: the fleet as its heartbeats in Redis describe it, for the holder of ADMIN_API_KEY. */
export const workerRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, { redis, config }) => {
  app.get(
    "/v1/workers",
    {
      config: { auth: "admin" },
      schema: {
        tags: ["admin"],
        summary: "Live workers: host, backend, device, the jobs they train, last heartbeat",
        description:
          "A worker writes a heartbeat every WORKER_HEARTBEAT_MS (10 s by default); one that misses three drops out of the list.",
        response: { 200: WorkerListSchema, 401: ErrorRef },
      },
    },
    async () => ({
      items: (await listWorkers(redis, config)).map((worker) => ({
        id: worker.id,
        host: worker.host,
        backend: worker.backend,
        device: worker.device,
        current_jobs: worker.currentJobs,
        started_at: worker.startedAt,
        last_heartbeat_at: worker.lastHeartbeatAt,
      })),
    }),
  );
};
