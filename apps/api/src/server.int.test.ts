import { createServer } from "node:net";
import { type Config, loadConfig } from "@plateau/config";
import { afterEach, describe, expect, it } from "vitest";
import type { App } from "./app";
import { type ApiDeps, closeDeps, createDeps } from "./deps";
import { buildServer } from "./server";

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const opened: { app: App; deps: ApiDeps }[] = [];

async function start(overrides: Partial<Config> = {}) {
  const deps = createDeps({
    ...loadConfig(),
    LOG_LEVEL: "silent" as Config["LOG_LEVEL"],
    READY_TIMEOUT_MS: 1500,
    ...overrides,
  });
  const app = await buildServer(deps);
  opened.push({ app, deps });
  return app;
}

afterEach(async () => {
  for (const { app, deps } of opened.splice(0)) {
    await app.close();
    await closeDeps(deps);
  }
});

describe("health", () => {
  it("/healthz answers while the process is alive", async () => {
    const app = await start();
    const response = await app.inject({ url: "/healthz" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "ok" });
  });

  it("/readyz is 200 when Postgres, Redis and S3 all answer", async () => {
    const app = await start();
    const response = await app.inject({ url: "/readyz" });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.status).toBe("ready");
    expect(Object.keys(body.checks).sort()).toEqual(["postgres", "redis", "s3"]);
    for (const check of Object.values(body.checks)) expect(check).toMatchObject({ ok: true });
  });

  it.each([
    ["postgres", (port: number) => ({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/plateau` })],
    ["redis", (port: number) => ({ REDIS_URL: `redis://127.0.0.1:${port}` })],
    ["s3", (port: number) => ({ S3_ENDPOINT: `http://127.0.0.1:${port}` })],
  ])("/readyz is 503 naming %s, and only it, when it is pointed at a closed port", async (name, override) => {
    const app = await start(override(await closedPort()));
    const started = Date.now();
    const response = await app.inject({ url: "/readyz" });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(response.statusCode).toBe(503);
    const body = response.json();
    expect(body.error).toBe("not_ready");
    expect(body.message).toContain(name);
    expect(body.details.map((detail: { path: string }) => detail.path)).toEqual([`/${name}`]);
    expect(body.details[0].message.length).toBeGreaterThan(0);
  });

  it("serves the OpenAPI document with the health routes", async () => {
    const app = await start();
    const response = await app.inject({ url: "/openapi.json" });
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.paths["/readyz"].get.responses).toHaveProperty("503");
    expect(document.paths).toHaveProperty("/healthz");
  });

  it("documents every job, checkpoint, dataset and callback route from the route schemas", async () => {
    const app = await start();
    const document = (await app.inject({ url: "/openapi.json" })).json();
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        "/v1/jobs",
        "/v1/jobs/{id}",
        "/v1/jobs/{id}/cancel",
        "/v1/jobs/{id}/metrics",
        "/v1/jobs/{id}/events",
        "/v1/jobs/{id}/checkpoints",
        "/v1/jobs/{id}/checkpoints/best",
        "/v1/jobs/{id}/checkpoints/{checkpoint}/model.json",
        "/v1/jobs/{id}/checkpoints/{checkpoint}/{file}",
        "/v1/datasets",
        "/v1/datasets/{id}",
        "/v1/callbacks/simulate",
      ]),
    );
    const submit = document.paths["/v1/jobs"].post;
    const spec = submit.requestBody.content["application/json"].schema;
    expect(spec.required).toEqual(expect.arrayContaining(["name", "model", "compile", "data", "fit"]));
    expect(spec.properties.callbacks.type).toBe("array");
    expect(Object.keys(submit.responses)).toEqual(expect.arrayContaining(["201", "400", "413"]));
    expect(document.paths["/v1/jobs/{id}/events"].get.responses["200"].content).toHaveProperty(
      "text/event-stream",
    );
    expect(document.paths["/v1/datasets"].post.requestBody.content).toHaveProperty("text/csv");
  });
});
