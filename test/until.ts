import { setTimeout as sleep } from "node:timers/promises";

export interface UntilOptions {
  /** Gives up (throws naming `what`) after this long. */
  timeoutMs?: number;
  /** Waits this long between probes. */
  everyMs?: number;
  /** A probe that throws (its store is down during an outage) is tried again instead of failing. */
  retryErrors?: boolean;
}

/** Polls `probe` until it returns something truthy, and returns that; bounded in time. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  { timeoutMs = 60_000, everyMs = 25, retryErrors = false }: UntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await (retryErrors ? probe().catch(() => null) : probe());
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
