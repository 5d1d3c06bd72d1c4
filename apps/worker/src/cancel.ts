import type { Config } from "@plateau/config";
import { cancelChannel, createRedis } from "@plateau/queue";
import type { Worker } from "bullmq";
import type { Logger } from "pino";

/**
 * Relays cancel requests published by any API instance to this worker: the job's processor gets its
 * AbortSignal fired within one batch instead of polling Postgres. Workers not holding the job ignore it.
 * Returns a function that unsubscribes and closes the connection.
 */
export async function relayCancels(
  config: Config,
  worker: Worker,
  log: Logger,
): Promise<() => Promise<void>> {
  const subscriber = createRedis(config, "subscriber");
  subscriber.on("error", (error) => log.warn({ err: error }, "cancel subscriber connection error"));
  subscriber.on("message", (_channel, jobId: string) => {
    if (worker.cancelJob(jobId, "user_cancel"))
      log.info({ jobId }, "cancel requested; stopping at the next batch end");
  });
  await subscriber.subscribe(cancelChannel(config));
  return async () => {
    await subscriber.quit().catch(() => subscriber.disconnect());
  };
}
