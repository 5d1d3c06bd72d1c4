import { type EventDataByType, type EventType, wireEvent } from "@plateau/contract";
import { appendEvents, type Db, lastSeq, type NewEvent, type Prisma } from "@plateau/db";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

export interface EventLogOptions {
  db: Db;
  /** Where each event is published once it is in Postgres (null: no live fan-out). */
  publisher: Redis | null;
  channel: string;
  jobId: string;
  flushMs: number;
  flushRows: number;
  log: Logger;
}

/**
 * The writer of one job's event stream while the worker holds the job. `append` only assigns the next seq
 * and buffers, so it costs nothing on the training path; a flush writes the buffer as one multi-row insert
 * every `flushMs` or `flushRows`, then publishes each event on Redis — after it is persisted, so a live
 * reader that backfills from Postgres and then follows Redis can never miss one.
 */
export class EventLog {
  private buffer: NewEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private failure: unknown = null;

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

  append<T extends EventType>(
    type: T,
    data: EventDataByType[T],
    at: { epoch?: number | null; batch?: number | null } = {},
  ): number {
    const seq = this.seq++;
    this.buffer.push({
      jobId: this.options.jobId,
      seq,
      type,
      epoch: at.epoch ?? null,
      batch: at.batch ?? null,
      data: data as Prisma.InputJsonValue,
      createdAt: new Date(),
    });
    if (this.buffer.length >= this.options.flushRows) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
    return seq;
  }

  /**
   * Writes what is buffered; flushes run one after another so events reach Postgres and Redis in seq order.
   * A failed insert keeps its events for the next flush (the insert is idempotent); `close` reports it.
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const events = this.buffer;
    if (events.length === 0) return;
    this.buffer = [];
    try {
      await appendEvents(this.options.db, events);
      this.failure = null;
    } catch (error) {
      this.buffer = [...events, ...this.buffer];
      this.failure = error;
      this.options.log.warn({ err: error, events: events.length }, "could not write events; retrying");
      this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
      return;
    }
    await this.publish(events);
  }

  private async publish(events: NewEvent[]): Promise<void> {
    const { publisher, channel, log } = this.options;
    if (!publisher) return;
    const pipeline = publisher.pipeline();
    for (const event of events) pipeline.publish(channel, JSON.stringify(wireEvent(event)));
    // Postgres holds the events already: a lost publish only delays live readers until they reconnect.
    await pipeline.exec().catch((error) => log.warn({ err: error }, "could not publish live events"));
  }

  /** Final flush; throws when events could not be stored. */
  async close(): Promise<void> {
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
