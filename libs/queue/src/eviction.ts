import type { Redis } from "ioredis";
import { redisReady } from "./connections";

/**
 * Redis under memory pressure evicts keys by its `maxmemory-policy`. BullMQ keeps jobs, their locks and
 * the queue's lists in plain keys (locks with a TTL), so any policy but `noeviction` can silently drop a
 * queued job or a running job's lock: only `noeviction` is safe (Redis then refuses writes when full,
 * which Plateau reports as an error instead of losing work).
 */
export const SAFE_EVICTION_POLICY = "noeviction";

export interface EvictionCheck {
  policy: string;
  safe: boolean;
  /** What to tell an operator when it is not safe. */
  problem?: string;
}

/**
 * Reads the server's eviction policy: CONFIG GET where allowed, else INFO memory (managed Redis services
 * often disable CONFIG).
 */
export async function checkEvictionPolicy(redis: Redis): Promise<EvictionCheck> {
  const policy = await redis
    .config("GET", "maxmemory-policy")
    .then((reply) => (reply as string[])[1])
    .catch(async () => /^maxmemory_policy:(\S+)/m.exec(await redis.info("memory"))?.[1]);
  if (!policy) throw new Error("Redis reported no maxmemory-policy");
  if (policy === SAFE_EVICTION_POLICY) return { policy, safe: true };
  return {
    policy,
    safe: false,
    problem:
      `Redis's maxmemory-policy is ${policy}: under memory pressure Redis may evict BullMQ's keys and lose ` +
      `queued jobs or running jobs' locks. Set maxmemory-policy ${SAFE_EVICTION_POLICY} (README, Operating Plateau).`,
  };
}

/** Where a process reports the check (a pino logger fits). */
interface EvictionLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(message: string): void;
}

/**
 * Checks once the connection is up (within `ms`) and logs the verdict: the policy when safe, the problem
 * as an error when not, a warning when it cannot be read. Never throws: a start-up check, not a gate.
 */
export async function reportEvictionPolicy(redis: Redis, ms: number, log: EvictionLog): Promise<void> {
  await redisReady(redis, ms)
    .then(() => checkEvictionPolicy(redis))
    .then(
      ({ safe, policy, problem }) =>
        safe ? log.info({ policy }, "Redis eviction policy") : log.error(problem!),
      (error) => log.warn({ err: error }, "could not read Redis's eviction policy; it must be noeviction"),
    );
}
