import { boundMessage, type EventDataByType, type EventType, wireEvent } from "@plateau/contract";
import { appendEvents, type Db, lastSeq, type NewEvent, type Prisma } from "@plateau/db";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { WorkerTelemetry } from "./telemetry";

export interface EventLogOptions {
  db: Db;
  /** Where each event is published once it is in Postgres (null: no live fan-out). */
  publisher: Redis | null;
  channel: string;
  jobId: string;
  flushMs: number;
  flushRows: number;
  /**
   * Per second, the most `callback` and the most `batch_end` events stored (MAX_EVENTS_PER_SECOND); the
   * excess is counted and reported in one event when the second ends. Unlimited when left out.
   */
  maxPerSecond?: number;
  log: Logger;
  /** The clock, in ms; tests pass their own. */
  now?: () => number;
  /**
   * Events held while Postgres is away, at most: past it `onPressure(true)` asks the producer (the trainer)
   * to wait, and `onPressure(false)` lets it go on once they are written. Nothing is dropped.
   */
  maxBuffered?: number;
  onPressure?: (paused: boolean) => void;
  /** Receives, per flush, how long its oldest event waited to be stored and published. */
  telemetry?: Pick<WorkerTelemetry, "eventLag">;
}

/** What a job may produce at batch speed (a Rule logging every batch); status, epoch_end and checkpoint events never are dropped. */
const CAPPED: ReadonlySet<EventType> = new Set<EventType>(["callback", "batch_end"]);
const WINDOW_MS = 1000;
/** Events per live message at most, so one backlogged flush is not one huge message for every API. */
const PUBLISH_CHUNK = 500;

interface Window {
  start: number;
  stored: Partial<Record<EventType, number>>;
  dropped: Partial<Record<EventType, number>>;
  /** Where the last dropped event happened. */
  epoch: number | null;
}

/**
 * Every string in an event's data cut to MAX_STORED_MESSAGE_LENGTH (messages may quote user data). Copies
 * only what holds a string it cut: the usual event, all numbers, costs no allocation at batch rate.
 */
function boundStrings(value: unknown): unknown {
  if (typeof value === "string") return boundMessage(value);
  if (typeof value !== "object" || value === null) return value;
  const source = value as Record<string, unknown>;
  let copy: Record<string, unknown> | null = null;
  for (const key in source) {
    const bounded = boundStrings(source[key]);
    if (bounded === source[key]) continue;
    copy ??= (Array.isArray(value) ? [...value] : { ...source }) as Record<string, unknown>;
    copy[key] = bounded;
  }
  return copy ?? value;
}

/**
 * The writer of one job's event stream while the worker holds the job. `append` only assigns the next seq
 * and buffers, so it costs nothing on the training path; a flush writes the buffer as one multi-row insert
 * every `flushMs` or `flushRows`, then publishes each event on Redis — after it is persisted, so a live
 * reader that backfills from Postgres and then follows Redis can never miss one. A batch's publish runs
 * while the next batch is inserted (at most one publish in flight, so they reach Redis in seq order).
 */
export class EventLog {
  private buffer: NewEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private window: Window | null = null;
  /** Ends a window in which events were dropped, so its report is not left waiting for the next event. */
  private windowTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private publishing: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private paused = false;
  /** The attempt whose events these are (stored with each), once the worker has started one. */
  attempt: number | null = null;

  private constructor(
    private readonly options: EventLogOptions,
    private seq: number,
  ) {}

  /** Continues the job's stream after the last event already stored (seq 1 is the API's `queued`). */
  static async open(options: EventLogOptions): Promise<EventLog> {
    return new EventLog(options, ((await lastSeq(options.db, options.jobId)) ?? 0) + 1);
  }

  /** The seq the next event will get (part of a resumable state). */
  get nextSeq(): number {
    return this.seq;
  }

  /**
   * Buffers the event under the next seq and returns it; null when the event was over this second's cap
   * (counted, and reported by one `events_dropped` event when the second ends or before the next status).
   */
  append<T extends EventType>(
    type: T,
    data: EventDataByType[T],
    at: { epoch?: number | null; batch?: number | null } = {},
  ): number | null {
    if (type === "status") this.endWindow();
    else if (CAPPED.has(type) && !this.admit(type, at.epoch ?? null)) return null;
    return this.push(type, data, at);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Counts the event against the current one-second window; false when that window's cap is reached. */
  private admit(type: EventType, epoch: number | null): boolean {
    const max = this.options.maxPerSecond;
    if (max === undefined) return true;
    const now = this.now();
    if (this.window && now - this.window.start >= WINDOW_MS) this.endWindow();
    this.window ??= { start: now, stored: {}, dropped: {}, epoch: null };
    const window = this.window;
    const stored = window.stored[type] ?? 0;
    if (stored < max) {
      window.stored[type] = stored + 1;
      return true;
    }
    window.dropped[type] = (window.dropped[type] ?? 0) + 1;
    window.epoch = epoch;
    this.windowTimer ??= setTimeout(() => this.endWindow(), window.start + WINDOW_MS - now);
    return false;
  }

  /** Closes the current window, reporting what it dropped as one callback event. */
  private endWindow(): void {
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = null;
    const window = this.window;
    this.window = null;
    if (!window) return;
    const count = Object.values(window.dropped).reduce((sum, n) => sum + n, 0);
    if (count === 0) return;
    this.options.log.warn({ dropped: window.dropped }, "events over MAX_EVENTS_PER_SECOND were dropped");
    this.push(
      "callback",
      {
        callback: "Plateau",
        action: "events_dropped",
        details: {
          count,
          per_second: this.options.maxPerSecond,
          by_type: window.dropped,
          since: new Date(window.start).toISOString(),
        },
      },
      { epoch: window.epoch },
    );
  }

  private push<T extends EventType>(
    type: T,
    data: EventDataByType[T],
    at: { epoch?: number | null; batch?: number | null },
  ): number {
    const seq = this.seq++;
    this.buffer.push({
      jobId: this.options.jobId,
      seq,
      type,
      epoch: at.epoch ?? null,
      batch: at.batch ?? null,
      data: boundStrings(data) as Prisma.InputJsonValue,
      createdAt: new Date(),
      attempt: this.attempt,
    });
    this.pressure();
    if (this.buffer.length >= this.options.flushRows) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
    return seq;
  }

  /**
   * Writes what is buffered, resolving once it is stored and published; flushes run one after another so
   * events reach Postgres and Redis in seq order. A failed insert keeps its events for the next flush (the
   * insert is idempotent); `close` reports it.
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing.then(() => this.publishing);
  }

  private async write(): Promise<void> {
    const events = this.buffer;
    if (events.length === 0) return;
    this.buffer = [];
    try {
      await appendEvents(this.options.db, events);
      this.failure = null;
      this.pressure();
    } catch (error) {
      this.buffer = [...events, ...this.buffer];
      this.failure = error;
      this.options.log.warn({ err: error, events: events.length }, "could not write events; retrying");
      this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
      return;
    }
    // The next insert starts once the previous batch is published, while this one is being published.
    const previous = this.publishing;
    this.publishing = previous.then(async () => {
      await this.publish(events);
      const oldest = events[0].createdAt;
      if (oldest) this.options.telemetry?.eventLag((Date.now() - oldest.getTime()) / 1000);
    });
    await previous;
  }

  /** Tells the producer to wait while more than maxBuffered events are unwritten, and to go on after. */
  private pressure(): void {
    const { maxBuffered, onPressure } = this.options;
    if (maxBuffered === undefined || !onPressure) return;
    const full = this.buffer.length >= maxBuffered;
    if (full === this.paused) return;
    this.paused = full;
    this.options.log.warn(
      { buffered: this.buffer.length, paused: full },
      full ? "event buffer full: training waits for Postgres" : "events written: training goes on",
    );
    onPressure(full);
  }

  /** A flush's events as JSON arrays of PUBLISH_CHUNK (a message per event took a third of ingest's time). */
  private async publish(events: NewEvent[]): Promise<void> {
    const { publisher, channel, log } = this.options;
    if (!publisher) return;
    const pipeline = publisher.pipeline();
    for (let start = 0; start < events.length; start += PUBLISH_CHUNK) {
      pipeline.publish(channel, JSON.stringify(events.slice(start, start + PUBLISH_CHUNK).map(wireEvent)));
    }
    // Postgres holds the events already: a lost publish only delays live readers until they reconnect.
    await pipeline.exec().catch((error) => log.warn({ err: error }, "could not publish live events"));
  }

  /** Final flush (after reporting any dropped events); throws when events could not be stored. */
  async close(): Promise<void> {
    this.endWindow();
    await this.flush();
    if (this.buffer.length > 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      throw new Error(`could not store ${this.buffer.length} events of job ${this.options.jobId}`, {
        cause: this.failure,
      });
    }
  }
}
