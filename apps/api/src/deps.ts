import type { Config } from "@plateau/config";
import { createDb, type Db } from "@plateau/db";
import { createRedis, createTrainingQueue, type TrainingQueue } from "@plateau/queue";
import { createStorage, type Storage } from "@plateau/storage";
import type { Redis } from "ioredis";
import { type Logger, pino } from "pino";
import { EventHub } from "./event-hub";

/** Everything the API talks to; any API instance holds its own set and shares nothing else. */
export interface ApiDeps {
  config: Config;
  /** Fastify logs through it too, so start-up, request and shutdown lines share one format. */
  log: Logger;
  db: Db;
  /** For PING, PUBLISH (cancel signals) and rate limits, failing fast; subscribers need their own connection. */
  redis: Redis;
  queue: TrainingQueue;
  storage: Storage;
  /** Live job events from Redis pub/sub, over one subscriber connection shared by all SSE clients. */
  events: EventHub;
}

/** Creates the clients; none of them fails when its service is down (readiness reports that). */
export function createDeps(config: Config): ApiDeps {
  // Lines written while a write is in flight go out together in the next one (a write per line cost
  // ≈5 % of a POST's CPU); pino flushes what is left when the process exits.
  const log = pino({ level: config.LOG_LEVEL, base: { service: "api" } }, pino.destination({ sync: false }));
  const redis = createRedis(config, "request");
  const queue = createTrainingQueue(config);
  const subscriber = createRedis(config, "subscriber");
  // Without a listener, ioredis and BullMQ print every reconnect failure as an unhandled error.
  redis.on("error", (error) => log.warn({ err: error }, "redis connection error"));
  queue.on("error", (error) => log.warn({ err: error }, "queue connection error"));
  subscriber.on("error", (error) => log.warn({ err: error }, "redis subscriber connection error"));
  return {
    config,
    log,
    db: createDb(config.DATABASE_URL),
    redis,
    queue,
    storage: createStorage(config),
    events: new EventHub(subscriber),
  };
}

export async function closeDeps(deps: ApiDeps): Promise<void> {
  await Promise.allSettled([deps.queue.close(), deps.db.$disconnect()]);
  deps.redis.disconnect();
  deps.events.close();
  deps.storage.client.destroy();
}
