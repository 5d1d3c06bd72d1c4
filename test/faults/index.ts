import { afterAll } from "vitest";
import { startPostgres, type TestPostgres } from "./postgres";
import { type FaultProxy, startFaultProxy } from "./proxy";
import { type RedisOptions, startRedis, type TestRedis } from "./redis";

export { startPostgres, type TestPostgres } from "./postgres";
export { type FaultMode, type FaultProxy, startFaultProxy } from "./proxy";
export { type RedisOptions, startRedis, type TestRedis } from "./redis";
export { sleep, waitFor } from "./wait";

/**
 * Fault servers that are closed in afterAll whatever the tests did (call at the top of a test file,
 * then start servers in beforeAll or in tests). Closing runs in reverse order and goes on past a
 * failing close, so one leftover does not leave the others running.
 */
export function faultHarness(): {
  redis(options?: RedisOptions): Promise<TestRedis>;
  postgres(): Promise<TestPostgres>;
  proxy(target: string | number): Promise<FaultProxy>;
} {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    const failures: unknown[] = [];
    for (const close of closers.splice(0).reverse()) await close().catch((error) => failures.push(error));
    if (failures.length > 0) throw new AggregateError(failures, "fault harness cleanup failed");
  });
  const owned = async <T extends { close(): Promise<void> }>(started: Promise<T>): Promise<T> => {
    const server = await started;
    closers.push(() => server.close());
    return server;
  };
  return {
    redis: (options) => owned(startRedis(options)),
    postgres: () => owned(startPostgres()),
    proxy: (target) => owned(startFaultProxy(target)),
  };
}
