import { loadConfig } from "@plateau/config";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { App } from "./app";
import { type ApiDeps, closeDeps, createDeps } from "./deps";
import { unavailableDependency } from "./errors";
import { buildServer } from "./server";

// Postgres on a port nothing listens on: the API's own database is down, not the machine's shared one.
let deps: ApiDeps;
let app: App;
beforeAll(async () => {
  deps = createDeps({
    ...loadConfig(),
    LOG_LEVEL: "silent",
    DATABASE_URL: "postgresql://postgres@127.0.0.1:1/plateau",
  });
  app = await buildServer(deps);
});
afterAll(async () => {
  await app.close();
  await closeDeps(deps);
});

it("answers 503 with Retry-After, not 500, while Postgres is unreachable", async () => {
  const response = await app.inject({ url: "/v1/jobs", headers: { authorization: "Bearer plat_anything" } });
  expect(response.statusCode).toBe(503);
  expect(response.headers["retry-after"]).toBe("5");
  expect(response.json()).toMatchObject({
    error: "unavailable",
    message: expect.stringMatching(/^Postgres is unavailable/),
  });
});

it("names Postgres for a raw statement's failure too (the quota lock and the batch insert are raw SQL)", async () => {
  const failure = await deps.db.$queryRaw`SELECT 1`.catch((error: unknown) => error);
  expect(unavailableDependency(failure)).toBe("Postgres");
});
