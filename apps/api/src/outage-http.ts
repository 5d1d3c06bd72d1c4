import { expect } from "vitest";
import type { TestApi } from "./test-api";

/**
 * Real HTTP to a test API as its tenant. A request that gets no answer within `ms` fails: a request that
 * waits for a store to return is what the outage tests catch. The API answers within about a second
 * (two 400 ms Redis command timeouts at worst); the default leaves room for a machine busy with the suite.
 */
export function httpTo(api: () => TestApi) {
  return (path: string, init: RequestInit = {}, ms = 3_000): Promise<Response> =>
    fetch(`${api().url}${path}`, {
      ...init,
      headers: { ...api().tenant.headers, "content-type": "application/json", ...init.headers },
      signal: AbortSignal.timeout(ms),
    });
}

/** The one error handler's answer for a store that is down: 503, Retry-After, and the store named. */
export async function expectUnavailable(response: Response, store: "Postgres" | "Redis"): Promise<void> {
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBe("5");
  expect(await response.json()).toMatchObject({
    error: "unavailable",
    message: expect.stringMatching(new RegExp(`^${store} is unavailable`)),
  });
}
