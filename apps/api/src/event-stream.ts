import { type JobEvent, type StatusData, TERMINAL_STATUSES, wireEvent } from "@plateau/contract";
import { type Db, eventsAfter } from "@plateau/db";
import type { EventHub } from "./event-hub";

/**
 * batch_end events are sampled for streaming: at most one per this many ms of the job's own clock
 * (event time, not delivery time), so a replay from Postgres thins out exactly like the live stream.
 * Every sampled batch row stays available from GET /v1/jobs/:id/metrics?level=batch.
 */
export const SSE_BATCH_INTERVAL_MS = 250;

const PAGE = 500;
/**
 * Live messages (each one flush of the worker's) a stream holds for a client that reads slower than the
 * job writes. Past it the stream takes no more live messages and reads the rest from Postgres once the
 * client has taken what it holds: a stalled reader neither piles up memory nor holds back the others.
 */
const MAX_QUEUED = 32;

/**
 * Each live event's SSE frame, formatted by the first stream that sends it: the hub hands every stream
 * of a job the same parsed event, so a thousand viewers cost one JSON.stringify per event, not a thousand.
 */
const frames = new WeakMap<JobEvent, string>();

function frameOf(event: JobEvent): string {
  let frame = frames.get(event);
  if (frame === undefined) {
    frame = `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
    frames.set(event, frame);
  }
  return frame;
}

function doneFrame(data: Record<string, unknown>): string {
  const { status, stop_reason } = data as StatusData;
  return `event: done\ndata: ${JSON.stringify({ status, stop_reason: stop_reason ?? null })}\n\n`;
}

export interface JobEventStreamOptions {
  db: Db;
  hub: EventHub;
  channel: string;
  jobId: string;
  /** The last seq the client has; 0 for everything. */
  after: number;
  /**
   * Redis pub/sub delivers at most once: a message published while the subscriber reconnects is gone.
   * A stream that heard nothing live for this long reads Postgres, so even a job's last event arrives
   * within twice this delay.
   */
  resyncMs: number;
  /** Writes SSE frames (whole events, one or more) to the client, resolving when it can take more. */
  write: (frames: string) => Promise<void>;
  /** Aborts when the client goes away or the server shuts down. */
  signal: AbortSignal;
  onError: (error: unknown) => void;
}

/** The job's terminal status event (its stream's last event), once it has one. */
export async function terminalStatus(
  db: Db,
  jobId: string,
): Promise<{ seq: number; data: Record<string, unknown> } | undefined> {
  const statuses = await eventsAfter(db, jobId, 0, { limit: PAGE, types: ["status"] });
  const terminal = statuses.find((row) => TERMINAL_STATUSES.has(String((row.data as StatusData).status)));
  return terminal && { seq: terminal.seq, data: terminal.data as Record<string, unknown> };
}

/**
 * Streams a job's events in seq order, each exactly once, from `after` until the terminal status
 * (then a synthesized `done`). Reads Postgres once the live subscription is confirmed: since the
 * worker publishes an event only after persisting it, anything published before the subscription is in
 * Postgres, and anything after it arrives live. A live event that skips seqs means some were published
 * before the subscription took effect (or while Redis was away): they are persisted, so Postgres fills
 * the gap. Resolves when the stream is over.
 */
export async function streamJobEvents(options: JobEventStreamOptions): Promise<void> {
  const { db, jobId, write, signal } = options;
  let last = options.after;
  let lastBatchTime = Number.NEGATIVE_INFINITY;
  let finished = false;
  let end!: () => void;
  const ended = new Promise<void>((resolve) => {
    end = resolve;
  });
  const stop = () => {
    finished = true;
    end();
  };

  // One task at a time, in arrival order: backfill and live delivery never interleave.
  let chain = Promise.resolve();
  let queued = 0;
  const run = (task: () => Promise<void>) => {
    queued += 1;
    chain = chain.then(async () => {
      try {
        if (!finished) await task();
      } catch (error) {
        options.onError(error);
        stop();
      } finally {
        queued -= 1;
      }
    });
  };
  // A read of Postgres that has not started yet will return everything stored by the time it runs, so
  // one waiting is enough however many reasons to read there are meanwhile.
  let catchUpWaiting = false;
  const catchUpLater = () => {
    if (catchUpWaiting) return;
    catchUpWaiting = true;
    run(() => {
      catchUpWaiting = false;
      return catchUp();
    });
  };

  /** Frames for the events in seq order (several go out as one write); set once the terminal status is in. */
  let pending = "";
  let over = false;

  function take(event: JobEvent) {
    last = event.seq;
    if (event.type === "batch_end") {
      const time = Date.parse(event.time);
      if (time - lastBatchTime < SSE_BATCH_INTERVAL_MS) return;
      lastBatchTime = time;
    }
    pending += frameOf(event);
    if (event.type === "status" && TERMINAL_STATUSES.has(String(event.data.status))) finish(event.data);
  }

  function finish(data: Record<string, unknown>) {
    pending += doneFrame(data);
    over = true;
  }

  /** Sends what was taken; the stream is over once `done` is written. */
  async function flush() {
    const text = pending;
    pending = "";
    if (text) await write(text);
    if (over) stop();
  }

  async function catchUp() {
    while (!finished) {
      const rows = await eventsAfter(db, jobId, last, { limit: PAGE });
      for (const row of rows) {
        if (over) break;
        take(wireEvent(row));
      }
      await flush();
      if (rows.length < PAGE) return;
    }
  }

  async function deliver(events: JobEvent[]) {
    for (const event of events) {
      if (over || event.seq <= last) continue;
      if (event.seq > last + 1) {
        await flush();
        return catchUp();
      }
      take(event);
    }
    await flush();
  }

  /** Whether a live message came since the last periodic read of Postgres. */
  let heard = false;

  /** A message holds one event (the API's) or a flush's worth (the worker's). */
  function live(value: unknown) {
    heard = true;
    if (queued >= MAX_QUEUED) return catchUpLater();
    run(() => deliver((Array.isArray(value) ? value : [value]) as JobEvent[]));
  }

  /** A client resuming after the terminal status (but before `done` reached it) still gets `done`. */
  async function finishIfOver() {
    const terminal = await terminalStatus(db, jobId);
    if (terminal && terminal.seq <= last) {
      finish(terminal.data);
      await flush();
    }
  }

  signal.addEventListener("abort", stop, { once: true });
  if (signal.aborted) return;
  // The subscription is not waited for: while Redis is away it completes only when Redis returns, and
  // meanwhile the stream serves what Postgres holds and reads it again every resyncMs. Once Redis
  // confirms, one more read covers what was published before the subscription took effect. Nor is the
  // UNSUBSCRIBE waited for, so a stream ends on time whatever Redis does.
  let unsubscribe: (() => Promise<void>) | undefined;
  const release = (remove: () => Promise<void>) => void remove().catch(() => {});
  options.hub.subscribe(options.channel, { message: live, resync: catchUpLater }).then(
    (remove) => {
      if (finished) return release(remove);
      unsubscribe = remove;
      catchUpLater();
    },
    () => {},
  );
  // Only a stream that heard nothing live for a whole period reads Postgres: a lost message is followed by
  // one that shows the gap, or it was the last for a while and the next quiet period's read finds it. A
  // thousand viewers of a busy job so cost Postgres nothing.
  const resync = setInterval(() => {
    if (!heard) catchUpLater();
    heard = false;
  }, options.resyncMs);
  try {
    run(catchUp);
    run(finishIfOver);
    await ended;
  } finally {
    clearInterval(resync);
    if (unsubscribe) release(unsubscribe);
  }
}
