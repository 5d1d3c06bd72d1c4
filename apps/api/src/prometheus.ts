import { listWorkers } from "@plateau/queue";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { App } from "./app";
import type { ApiDeps } from "./deps";
import { ErrorRef } from "./errors";

/** Postgres is asked for job counts at most this often, however many scrapers there are. */
const JOB_COUNTS_TTL_MS = 5_000;
const QUEUE_STATES = ["waiting", "prioritized", "delayed", "active"] as const;

/**
 * The API's Prometheus metrics at `GET /metrics`, for the holder of ADMIN_API_KEY (the fleet's job
 * counts are no tenant's business). Fleet-wide figures (jobs by status, queue depth, live workers) come
 * from Postgres and Redis, so every API instance reports the same values: aggregate them with max, not
 * sum. HTTP latency and SSE connections are this instance's own.
 */
export function installPrometheus(app: App, deps: ApiDeps): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { log } = deps;

  const http = new Histogram({
    name: "plateau_http_request_duration_seconds",
    help: "Time to answer an HTTP request, by method, route template and status code (an SSE stream counts when it ends).",
    labelNames: ["method", "route", "status_code"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // The route's template, never the raw URL: one series per route, whatever ids clients send.
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    http.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000);
  });

  new Gauge({
    name: "plateau_sse_connections",
    help: "Event streams (SSE) this API instance is serving.",
    registers: [registry],
    collect() {
      this.set(deps.events.listenerCount);
    },
  });

  let jobCounts: { at: number; rows: Promise<{ status: string; jobs: number }[]> } | null = null;
  new Gauge({
    name: "plateau_jobs",
    help: `Jobs by status, from Postgres (read at most every ${JOB_COUNTS_TTL_MS / 1000} s).`,
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      if (!jobCounts || Date.now() - jobCounts.at >= JOB_COUNTS_TTL_MS) {
        const rows: Promise<{ status: string; jobs: number }[]> = deps.db
          .$queryRaw`SELECT status::text AS status, count(*)::int AS jobs FROM jobs GROUP BY status`;
        // A failed read is not kept: the next scrape asks again.
        rows.catch(() => {
          if (jobCounts?.rows === rows) jobCounts = null;
        });
        jobCounts = { at: Date.now(), rows };
      }
      const { rows } = jobCounts;
      await refresh(this, "jobs by status", async () => {
        for (const row of await rows) this.set({ status: row.status }, row.jobs);
      });
    },
  });

  new Gauge({
    name: "plateau_queue_jobs",
    help: "Training queue entries by BullMQ state: waiting (and prioritized) for a worker, delayed before a retry, active on a worker.",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      await refresh(this, "queue counts", async () => {
        const counts = await deps.queue.getJobCounts(...QUEUE_STATES);
        for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
      });
    },
  });

  new Gauge({
    name: "plateau_workers",
    help: "Workers whose heartbeat is live in Redis (GET /v1/workers), by backend.",
    labelNames: ["backend"],
    registers: [registry],
    async collect() {
      await refresh(this, "live workers", async () => {
        for (const worker of await listWorkers(deps.redis, deps.config))
          this.inc({ backend: worker.backend });
      });
    },
  });

  /** Rebuilds a gauge's series; when its source is down the series are left out rather than stale. */
  async function refresh(gauge: Gauge, what: string, fill: () => Promise<void>): Promise<void> {
    gauge.reset();
    try {
      await fill();
    } catch (error) {
      gauge.reset();
      log.warn({ err: error }, `metrics: could not read ${what}`);
    }
  }

  app.get(
    "/metrics",
    {
      config: { auth: "admin" },
      schema: {
        tags: ["admin"],
        summary: "Prometheus metrics (text exposition format)",
        description:
          "Scrape with the admin key (Prometheus: authorization: {credentials_file: ...}). Jobs by status, queue depth and live workers are fleet-wide (the same on every API instance); HTTP latency and SSE connections are this instance's.",
        response: { 401: ErrorRef },
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
}
