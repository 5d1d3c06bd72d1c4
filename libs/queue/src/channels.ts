import type { Config } from "@plateau/config";

/**
 * Redis pub/sub channels, under the same prefix as the BullMQ keys so deployments sharing one Redis
 * (and parallel test runs) never hear each other.
 */

/** Every worker subscribes; the message is the id of the job to cancel. */
export function cancelChannel(config: Pick<Config, "REDIS_PREFIX">): string {
  return `${config.REDIS_PREFIX}:cancel`;
}

/**
 * Live events of one job (the worker publishes, API instances relay them over SSE): each message a JSON
 * array of wire events in seq order, published once they are stored.
 */
export function jobEventsChannel(config: Pick<Config, "REDIS_PREFIX">, jobId: string): string {
  return `${config.REDIS_PREFIX}:job:${jobId}:events`;
}
