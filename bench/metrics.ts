import { loadavg } from "node:os";
import { PlateauClient } from "@plateau/client";
import { appendEvents, createDb, createJob, type NewEvent } from "@plateau/db";
import { createTestTenant } from "../test/tenants";
import { median, ms, progress, type Row } from "./report";
import type { Stack } from "./stack";

const ROWS = 100_000;
const MAX_POINTS = 1000;
const INSERT_CHUNK = 5000;
const ROUNDS = 5;
const PAGE = 1000;

/**
 * The dashboard's question for a long run: a job with 100,000 batch rows (loss, acc, learning rate),
 * charted from GET /metrics?max_points=1000 — against reading every row in pages, which is what a chart
 * without downsampling would need. The rows are written straight to Postgres, as the worker writes them.
 */
export async function metrics(stack: Stack): Promise<Row[]> {
  const db = createDb(stack.config.DATABASE_URL);
  try {
    const tenant = await createTestTenant(db, "bench-metrics");
    const client = new PlateauClient({ baseUrl: stack.baseUrl, apiKey: tenant.key });
    const job = await createJob(db, { tenantId: tenant.id, name: "bench-metrics", spec: {}, epochs: 100 });
    progress(`writing ${ROWS} batch rows`);
    for (let start = 0; start < ROWS; start += INSERT_CHUNK) {
      const events: NewEvent[] = [];
      for (let i = start; i < Math.min(ROWS, start + INSERT_CHUNK); i++) {
        const logs = { loss: 2 / (1 + i / 1000) + 0.05 * Math.sin(i), acc: i / ROWS, learning_rate: 0.01 };
        events.push({
          jobId: job.id,
          seq: i + 1,
          type: "batch_end",
          epoch: Math.floor(i / 1000),
          batch: i % 1000,
          data: { logs },
        });
      }
      await appendEvents(db, events);
    }
    const query = { level: "batch", max_points: MAX_POINTS } as const;
    await client.metrics(job.id, query);
    const sampled: number[] = [];
    let points = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const started = performance.now();
      const page = await client.metrics(job.id, query);
      sampled.push(performance.now() - started);
      points = Math.max(
        ...["loss", "acc", "learning_rate"].map((key) => page.items.filter((r) => key in r.logs).length),
      );
    }
    // The load average beside the figure: on a shared 2-core machine it moves the figure most.
    const load = loadavg()[0].toFixed(1);
    progress(
      `max_points=${MAX_POINTS}: ${ms(median(sampled))} (median of ${ROUNDS}, load ${load}), ≤ ${points} points per series`,
    );
    const paged: number[] = [];
    for (let round = 0; round < 2; round++) {
      const started = performance.now();
      for (let after = 0, more = true; more; ) {
        const page = await client.metrics(job.id, { level: "batch", limit: PAGE, after });
        more = page.items.length === PAGE;
        after = page.next_after;
      }
      paged.push(performance.now() - started);
    }
    progress(`every row in pages of ${PAGE}: ${ms(median(paged))}`);
    return [
      {
        benchmark: "metrics",
        measure: `${ROWS / 1000}k batch rows, max_points=${MAX_POINTS} vs every row paged`,
        plateau: ms(median(sampled)),
        baseline: ms(median(paged)),
        ratio: median(sampled) / median(paged),
      },
    ];
  } finally {
    await db.$disconnect();
  }
}
