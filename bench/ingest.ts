import { loadavg } from "node:os";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { createDb, createJob, type Db } from "@plateau/db";
import { createRedis, jobEventsChannel } from "@plateau/queue";
import pg from "pg";
import { pino } from "pino";
import { EventLog } from "../apps/worker/src/event-log";
import { createTestTenant } from "../test/tenants";
import { median, progress, type Row } from "./report";
import type { Stack } from "./stack";

const ROWS = 200_000;
const ROUNDS = 3;
const TARGET_PER_S = 50_000;
const COLUMNS = ["job_id", "seq", "type", "epoch", "batch", "data", "created_at", "attempt"];

/** The i-th batch_end row as a job logging every batch writes it: loss, accuracy and learning rate. */
function batchEnd(i: number) {
  const logs = { loss: 2 / (1 + i / 1000) + 0.05 * Math.sin(i), acc: i / ROWS, learning_rate: 0.01 };
  return { epoch: Math.floor(i / 1000), batch: i % 1000, data: { logs } };
}

/**
 * A worker's event log at full speed: rows/s from the first `append` until `close` has every row in
 * Postgres and published on Redis, flushing as the worker does (EVENT_FLUSH_ROWS / EVENT_FLUSH_MS, the
 * buffer growing while an insert is in flight), without the per-second cap so the log itself is measured.
 */
async function eventLogRate(stack: Stack, db: Db, jobId: string): Promise<number> {
  const publisher = createRedis(stack.config, "publisher");
  let resume: (() => void) | null = null;
  let paused = false;
  const log = await EventLog.open({
    db,
    publisher,
    channel: jobEventsChannel(stack.config, jobId),
    jobId,
    flushMs: stack.config.EVENT_FLUSH_MS,
    flushRows: stack.config.EVENT_FLUSH_ROWS,
    maxBuffered: stack.config.MAX_BUFFERED_EVENTS,
    onPressure: (full) => {
      paused = full;
      if (!full) resume?.();
    },
    log: pino({ level: "silent" }),
  });
  log.attempt = 1;
  try {
    const started = performance.now();
    for (let i = 0; i < ROWS; i++) {
      const { epoch, batch, data } = batchEnd(i);
      log.append("batch_end", data, { epoch, batch });
      // The trainer's messages arrive one event-loop turn apart, not in one synchronous burst.
      if (i % stack.config.EVENT_FLUSH_ROWS === 0) await yieldToLoop();
      while (paused) await new Promise<void>((go) => (resume = go));
    }
    await log.close();
    return ROWS / ((performance.now() - started) / 1000);
  } finally {
    await publisher.quit();
  }
}

/** The same rows through node-postgres alone: multi-row INSERT … ON CONFLICT DO NOTHING, EVENT_FLUSH_ROWS a statement. */
async function bareInsertRate(client: pg.Client, jobId: string, chunk: number): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < ROWS; start += chunk) {
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (let i = start; i < Math.min(ROWS, start + chunk); i++) {
      const { epoch, batch, data } = batchEnd(i);
      const at = values.length;
      values.push(jobId, i + 1, "batch_end", epoch, batch, JSON.stringify(data), new Date(), 1);
      tuples.push(`(${COLUMNS.map((_, c) => `$${at + c + 1}`).join(", ")})`);
    }
    await client.query(
      `INSERT INTO job_events (${COLUMNS.join(", ")}) VALUES ${tuples.join(", ")} ON CONFLICT DO NOTHING`,
      values,
    );
  }
  return ROWS / ((performance.now() - started) / 1000);
}

/** Every row is there once: seqs 1…ROWS, none missing. */
async function checkComplete(client: pg.Client, jobId: string): Promise<void> {
  const { rows } = await client.query<{ count: number; first: number; last: number }>(
    "SELECT count(*)::int AS count, min(seq) AS first, max(seq) AS last FROM job_events WHERE job_id = $1",
    [jobId],
  );
  const { count, first, last } = rows[0];
  if (count !== ROWS || first !== 1 || last !== ROWS) {
    throw new Error(`job ${jobId}: ${count} rows, seqs ${first}…${last}; expected 1…${ROWS}`);
  }
}

/**
 * Event ingest (issue 11): how many rows a second one worker's event log gets into Postgres, against
 * node-postgres inserting the same rows in statements of the same size on the same database.
 */
export async function ingest(stack: Stack): Promise<Row[]> {
  const db = createDb(stack.config.DATABASE_URL);
  const client = new pg.Client({ connectionString: stack.config.DATABASE_URL });
  await client.connect();
  try {
    const tenant = await createTestTenant(db, "bench-ingest");
    const newJob = async () =>
      (await createJob(db, { tenantId: tenant.id, name: "bench-ingest", spec: {}, epochs: 1 })).id;
    const plateau: number[] = [];
    const bare: number[] = [];
    // Alternating, so a change in the machine's load falls on both.
    for (let round = 0; round < ROUNDS; round++) {
      const logJob = await newJob();
      plateau.push(await eventLogRate(stack, db, logJob));
      await checkComplete(client, logJob);
      const bareJob = await newJob();
      bare.push(await bareInsertRate(client, bareJob, stack.config.EVENT_FLUSH_ROWS));
      await checkComplete(client, bareJob);
      progress(
        `round ${round + 1}: event log ${rate(plateau[round])}, node-postgres ${rate(bare[round])} (load ${loadavg()[0].toFixed(1)})`,
      );
    }
    return [
      {
        benchmark: "ingest",
        measure: `${ROWS / 1000}k batch rows from one worker's event log into Postgres (goal ≥ ${rate(TARGET_PER_S)}), vs node-postgres multi-row INSERTs of ${stack.config.EVENT_FLUSH_ROWS}`,
        plateau: rate(median(plateau)),
        baseline: rate(median(bare)),
        ratio: median(bare) / median(plateau),
      },
    ];
  } finally {
    await client.end();
    await db.$disconnect();
  }
}

function rate(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString("en-US")} rows/s`;
}
