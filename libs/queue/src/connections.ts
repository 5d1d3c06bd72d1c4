import type { Config } from "@plateau/config";
import type { RedisOptions } from "bullmq";
import { Redis } from "ioredis";

/**
 * What a connection is for decides how it behaves when Redis is slow or gone:
 * - `worker`, `subscriber`: block or wait for Redis indefinitely (BullMQ requires
 *   `maxRetriesPerRequest: null` for a Worker; a subscriber must survive reconnects too).
 * - `queue`, `publisher`: used inside HTTP requests, so commands fail after a few retries and the
 *   caller gets an error instead of a request that hangs until Redis returns.
 */
export type RedisPurpose = "worker" | "subscriber" | "queue" | "publisher";

/** Options for `purpose`, in the shape BullMQ accepts as `connection` (it then owns and closes the client). */
export function redisOptions(
  config: Pick<Config, "REDIS_URL">,
  purpose: RedisPurpose,
): RedisOptions & { url: string } {
  const waitsForever = purpose === "worker" || purpose === "subscriber";
  return {
    url: config.REDIS_URL,
    connectionName: `plateau-${purpose}`,
    maxRetriesPerRequest: waitsForever ? null : 3,
    // Back off up to 2 s between reconnects, forever: Redis restarting must not kill the process.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  };
}

/** A client the caller owns (pub/sub, PING) and ends with `quit()`. */
export function createRedis(config: Pick<Config, "REDIS_URL">, purpose: RedisPurpose): Redis {
  const { url, ...options } = redisOptions(config, purpose);
  return new Redis(url, options);
}
