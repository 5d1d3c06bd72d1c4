import { readFileSync } from "node:fs";
import { Agent, get } from "node:http";
import { loadavg } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { wireEvent } from "@plateau/contract";
import { appendEvents, createDb, createJob, type Db, type NewEvent } from "@plateau/db";
import { createRedis, jobEventsChannel } from "@plateau/queue";
import { createParser } from "eventsource-parser";
import { createTestTenant } from "../test/tenants";
import { median, ms, percentile, progress, type Row } from "./report";
import type { Stack } from "./stack";

const VIEWERS = 1000;
/** A flush every EVENT_FLUSH_MS (250 ms by default) of this many epoch_end events: a job with short epochs. */
const EVENTS_PER_FLUSH = 4;
const FLUSHES = 60;
const CONNECT_BATCH = 50;
const TARGET_P99_MS = 100;
const TARGET_RSS_MB = 50;
/** Seqs of one phase's stream: `queued`, the flushes' events and the terminal status. */
const SEQS = 1 + FLUSHES * EVENTS_PER_FLUSH + 1;

/** A synthetic worker: per flush, stores the events and then publishes them as one message, as EventLog does. */
class Publisher {
  private readonly redis;
  private seq = 1;
  /** When each seq's PUBLISH was sent (performance.now of this process, which is also the clients'). */
  readonly publishedAt = new Float64Array(SEQS + 1);

  constructor(
    private readonly stack: Stack,
    private readonly db: Db,
    private readonly jobId: string,
  ) {
    this.redis = createRedis(stack.config, "publisher");
  }

  async flush(events: Omit<NewEvent, "jobId" | "seq">[]): Promise<void> {
    const rows = events.map((event) => ({
      ...event,
      jobId: this.jobId,
      seq: ++this.seq,
      createdAt: new Date(),
    }));
    await appendEvents(this.db, rows);
    const message = JSON.stringify(rows.map(wireEvent));
    const at = performance.now();
    for (const row of rows) this.publishedAt[row.seq] = at;
    await this.redis.publish(jobEventsChannel(this.stack.config, this.jobId), message);
  }

  /** FLUSHES flushes of epoch_end events, EVENT_FLUSH_MS apart, then the terminal status that ends every stream. */
  async run(): Promise<void> {
    for (let flush = 0; flush < FLUSHES; flush++) {
      const epochs = Array.from({ length: EVENTS_PER_FLUSH }, (_, i) => flush * EVENTS_PER_FLUSH + i);
      await this.flush(
        epochs.map((epoch) => ({
          type: "epoch_end" as const,
          epoch,
          data: {
            logs: {
              loss: 1 / (epoch + 1),
              acc: epoch / 1000,
              val_loss: 1 / (epoch + 2),
              learning_rate: 0.01,
            },
          },
          attempt: 1,
        })),
      );
      await delay(this.stack.config.EVENT_FLUSH_MS);
    }
    await this.flush([
      { type: "status", data: { status: "succeeded", stop_reason: "completed" }, attempt: 1 },
    ]);
  }

  close(): Promise<string> {
    return this.redis.quit();
  }
}

/** A job that is running as far as its stream knows (seq 1 `queued`, as the API writes it). */
async function runningJob(db: Db, tenantId: string): Promise<string> {
  const job = await createJob(db, {
    tenantId,
    name: "bench-live",
    spec: {},
    epochs: FLUSHES * EVENTS_PER_FLUSH,
  });
  await appendEvents(db, [{ jobId: job.id, seq: 1, type: "status", data: { status: "queued" } }]);
  return job.id;
}

interface Viewer {
  /** Resolves with the stream's first event (the job's past, from Postgres). */
  opened: Promise<void>;
  /** Receipt time by seq, once `done` arrived (typed arrays: nothing for the bench's collector to walk). */
  received: Promise<Float64Array>;
}

/**
 * An SSE viewer: node:http and eventsource-parser, the seq read from `id:` (no JSON parse). Plain
 * `data` callbacks rather than fetch's web streams keep the clients' share of the 2 cores small.
 */
function viewer(url: string, key: string, agent: Agent): Viewer {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const received = new Promise<Float64Array>((resolve, reject) => {
    const times = new Float64Array(SEQS + 1);
    let next = 1;
    const request = get(url, { agent, headers: { authorization: `Bearer ${key}` } }, (response) => {
      if (response.statusCode !== 200) reject(new Error(`event stream answered ${response.statusCode}`));
      response.setEncoding("utf8");
      const parser = createParser({
        onEvent: (message) => {
          if (message.event === "done") {
            if (next === SEQS + 1) resolve(times);
            else reject(new Error(`done after seq ${next - 1}, expected ${SEQS}`));
            request.destroy();
          } else if (Number(message.id) === next) times[next++] = performance.now();
          else reject(new Error(`seq ${message.id} where ${next} was due`));
          open();
        },
      });
      response.on("data", (text: string) => parser.feed(text));
      response.on("end", () => reject(new Error("an event stream ended before done")));
    });
    request.on("error", reject);
  });
  return { opened: Promise.race([opened, received.then(() => {})]), received };
}

/** The bare floor: an ioredis subscriber in this process, receipt of each message minus its PUBLISH. */
async function bareSubscriber(stack: Stack, jobId: string, publisher: Publisher) {
  const subscriber = createRedis(stack.config, "subscriber");
  const latencies: number[] = [];
  subscriber.on("message", (_channel, text: string) => {
    const at = performance.now();
    for (const event of JSON.parse(text) as { seq: number }[]) {
      latencies.push(at - publisher.publishedAt[event.seq]);
    }
  });
  await subscriber.subscribe(jobEventsChannel(stack.config, jobId));
  return { latencies, close: () => subscriber.quit() };
}

/** One running job followed by `viewers` SSE clients on the one API process while a publisher writes. */
async function phase(stack: Stack, db: Db, tenant: { id: string; key: string }, viewers: number) {
  const jobId = await runningJob(db, tenant.id);
  const url = `${stack.baseUrl}/v1/jobs/${jobId}/events`;
  const publisher = new Publisher(stack, db, jobId);
  const bare = await bareSubscriber(stack, jobId, publisher);
  const rss: number[] = [];
  const sampler = setInterval(() => {
    rss.push(rssMb(stack.apiPid));
  }, 250);
  try {
    // One connection per viewer, as a thousand browsers would have.
    const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
    const streams: Viewer[] = [];
    // In batches, each waiting for its streams' first event, so the API's accept queue never overflows.
    for (let start = 0; start < viewers; start += CONNECT_BATCH) {
      const batch = Array.from({ length: Math.min(CONNECT_BATCH, viewers - start) }, () =>
        viewer(url, tenant.key, agent),
      );
      streams.push(...batch);
      await Promise.all(batch.map((stream) => stream.opened));
    }
    await publisher.run();
    // Each viewer got seqs 1…SEQS once, in order, or it failed; from seq 2 on, each was published live.
    const latencies: number[] = [];
    for (const times of await Promise.all(streams.map((stream) => stream.received))) {
      for (let seq = 2; seq <= SEQS; seq++) latencies.push(times[seq] - publisher.publishedAt[seq]);
    }
    return {
      latencies,
      bare: bare.latencies,
      rss,
    };
  } finally {
    clearInterval(sampler);
    await Promise.all([bare.close(), publisher.close()]);
  }
}

/**
 * Live viewers (issue 11): a thousand SSE clients on one API process following one running job's
 * `GET /v1/jobs/:id/events`, delivery from the worker's PUBLISH to each client's receipt, against one
 * client doing the same in the same run. The clients run in this process, on the same 2 cores as the
 * API, Postgres and Redis: their own parsing is part of the figure.
 */
export async function live(stack: Stack): Promise<Row[]> {
  const db = createDb(stack.config.DATABASE_URL);
  try {
    const tenant = await createTestTenant(db, "bench-live");
    const one = await phase(stack, db, tenant, 1);
    progress(
      `1 viewer: p50 ${ms(percentile(one.latencies, 50))}, p99 ${ms(percentile(one.latencies, 99))} (bare Redis subscriber p99 ${ms(percentile(one.bare, 99))})`,
    );
    const many = await phase(stack, db, tenant, VIEWERS);
    // Medians of the samples taken while each phase ran: the heap's sawtooth (tens of MB between
    // collections) would otherwise decide the figure.
    const growth = median(many.rss) - median(one.rss);
    const load = loadavg()[0].toFixed(1);
    progress(
      `${VIEWERS} viewers: ${many.latencies.length} deliveries, p50 ${ms(percentile(many.latencies, 50))}, p99 ${ms(percentile(many.latencies, 99))}, max ${ms(percentile(many.latencies, 100))} (bare Redis subscriber p99 ${ms(percentile(many.bare, 99))}); API RSS median ${median(one.rss).toFixed(0)} MB (peak ${Math.max(...one.rss).toFixed(0)}) with 1 viewer, ${median(many.rss).toFixed(0)} MB (peak ${Math.max(...many.rss).toFixed(0)}) with ${VIEWERS}: ${signedMb(growth)}; load ${load}`,
    );
    const p99 = percentile(many.latencies, 99);
    return [
      {
        benchmark: "live",
        measure: `p99 PUBLISH → receipt, ${VIEWERS} SSE viewers of one job on one API (goal ≤ ${TARGET_P99_MS} ms; API RSS ${signedMb(growth)} over 1 viewer's, goal ≤ ${TARGET_RSS_MB} MB) vs 1 viewer`,
        plateau: ms(p99),
        baseline: ms(percentile(one.latencies, 99)),
        ratio: p99 / percentile(one.latencies, 99),
      },
    ];
  } finally {
    await db.$disconnect();
  }
}

function signedMb(mb: number): string {
  return `${mb < 0 ? "−" : "+"}${Math.abs(mb).toFixed(0)} MB`;
}

/** A process's resident memory in MB, from /proc (Linux). */
function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}
