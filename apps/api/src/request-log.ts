import type { App } from "./app";

/**
 * The log lines of a request to one job's routes (`/v1/jobs/:id…`) carry `job_id`, as the worker's lines
 * about that job do, so one job's story greps out of every process's log. Fastify logs "incoming request"
 * before any hook runs; "request completed" and everything the handler logs carry it.
 */
export function installJobLogContext(app: App): void {
  app.addHook("onRequest", async (request, reply) => {
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof id !== "string" || !request.routeOptions.url?.startsWith("/v1/jobs/:id")) return;
    const log = request.log.child({ job_id: id });
    request.log = log;
    reply.log = log;
  });
}
