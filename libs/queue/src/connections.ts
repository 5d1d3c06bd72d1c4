import { once } from "node:events";
import type { Config } from "@plateau/config";
import type { RedisOptions } from "bullmq";
import { Redis } from "ioredis";
import type { TrainingQueue } from "./training-queue";

/**
 * What a connection is for decides how it behaves when Redis is slow or gone:
 * - `worker`, `subscriber`: block or wait for Redis indefinitely (BullMQ requires
 *   `maxRetriesPerRequest: null` for a Worker; a subscriber must survive reconnects too).
 * - `queue`, `request`: used inside HTTP requests (the API's queue; its PING, PUBLISH and rate-limit
 *   counters) and by the reconciler. They fail fast: no offline queue (a command while disconnected
 *   fails at once instead of waiting for the reconnect) and a command timeout (a frozen or partitioned
 *   Redis keeps the socket open but never answers), so a request answers 503 within a second instead of
 *   hanging until Redis returns.
 * - `publisher`: the worker's live-event fan-out; a few retries, then the publish fails (the events are
 *   in Postgres already).
 */
export type RedisPurpose = "worker" | "subscriber" | "queue" | "request" | "publisher";

/**
 * How long a fail-fast command may take. Redis answers in well under a millisecond; the budget covers a
 * busy event loop, and two in a row (rate limit, then the submit's check) stay under a second.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 400;

/** Options for `purpose`, in the shape BullMQ accepts as `connection` (it then owns and closes the client). */
export function redisOptions(
  config: Pick<Config, "REDIS_URL">,
  purpose: RedisPurpose,
): RedisOptions & { url: string } {
  const waitsForever = purpose === "worker" || purpose === "subscriber";
  const failsFast = purpose === "queue" || purpose === "request";
  return {
    url: config.REDIS_URL,
    connectionName: `plateau-${purpose}`,
    maxRetriesPerRequest: waitsForever ? null : failsFast ? 1 : 3,
    ...(failsFast && {
      enableOfflineQueue: false,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      connectTimeout: 2_000,
    }),
    // Requests' commands (rate-limit counters) issued in one turn of the event loop go out in one write.
    ...(purpose === "request" && { enableAutoPipelining: true }),
    // Back off up to 2 s between reconnects, forever: Redis restarting must not kill the process.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  };
}

/** A client the caller owns (pub/sub, PING) and ends with `quit()`. */
export function createRedis(config: Pick<Config, "REDIS_URL">, purpose: RedisPurpose): Redis {
  const { url, ...options } = redisOptions(config, purpose);
  return new Redis(url, options);
}

/** A fail-fast Redis call that got no answer in time: Redis is down, frozen or unreachable. */
export class RedisUnavailableError extends Error {
  constructor(what: string, ms: number) {
    super(`Redis did not answer ${what} within ${ms} ms`);
    this.name = "RedisUnavailableError";
  }
}

/** `promise`, or a RedisUnavailableError after `ms` (e.g. a BullMQ queue still waiting for its first connection). */
export async function withinRedisDeadline<T>(
  promise: Promise<T>,
  what: string,
  ms = REDIS_COMMAND_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisUnavailableError(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

// What ioredis throws when a fail-fast connection cannot serve a command.
const UNAVAILABLE_MESSAGES = new Set([
  "Connection is closed.",
  "Command timed out",
  "Stream isn't writeable and enableOfflineQueue options is false",
]);

/** Whether `error` says Redis is down or not answering (as opposed to a bad command or a bug). */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error instanceof RedisUnavailableError ||
    error.name === "MaxRetriesPerRequestError" ||
    UNAVAILABLE_MESSAGES.has(error.message)
  );
}

/** Resolves when the queue's Redis answers a PING in time; else throws a RedisUnavailableError. */
export async function pingQueue(queue: Pick<TrainingQueue, "getBackend">): Promise<void> {
  const client = await withinRedisDeadline(queue.getBackend().client, "on its queue connection");
  await withinRedisDeadline(client.runCommand("ping", []), "PING");
}

/**
 * Resolves once `redis` is connected, or rejects with a RedisUnavailableError after `ms`: a fail-fast
 * client refuses commands until its first connection is up, so start-up checks wait for it first.
 */
export function redisReady(redis: Redis, ms: number): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return withinRedisDeadline(
    once(redis, "ready").then(() => {}),
    "a connection",
    ms,
  );
}
