import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { createJob, recordCheckpoint } from "@plateau/db";
import { exampleJob } from "@plateau/spec/example";
import { checkpointPrefix, deletePrefix, finalModelPrefix, saveModel } from "@plateau/storage";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTenant, type TestTenant } from "../../../test/tenants";
import { routesOf } from "./auth";
import { ModelTokens } from "./model-token";
import { startTestApi, type TestApi } from "./test-api";

const ADMIN_API_KEY = `admin-${randomUUID()}`;
const URL_SIGNING_SECRET = `signing-${randomUUID()}`;
let api: TestApi;
let owner: TestTenant;
let stranger: TestTenant;
/** What the owner has: one of each kind of resource a route can name. */
const owned = { job: "", checkpoint: "", file: "", name: "", dataset: "" };

beforeAll(async () => {
  await tf.setBackend("cpu");
  api = await startTestApi({
    REDIS_PREFIX: `${loadConfig().REDIS_PREFIX}-tenants`,
    ADMIN_API_KEY,
    URL_SIGNING_SECRET,
  });
  owner = api.tenant;
  stranger = await createTestTenant(api.deps.db, "stranger");
  const job = await createJob(api.deps.db, {
    tenantId: owner.id,
    name: "owned",
    spec: exampleJob(),
    epochs: 1,
  });
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
  const saved = await saveModel(api.deps.storage, checkpointPrefix(job.id, "best"), model);
  const checkpoint = await recordCheckpoint(api.deps.db, {
    jobId: job.id,
    name: "best",
    epoch: 0,
    monitor: "loss",
    value: 1,
    isBest: true,
    weightsOnly: false,
    sizeBytes: saved.sizeBytes,
  });
  const upload = await api.inject({
    method: "POST",
    url: "/v1/datasets?filename=train.csv",
    headers: { "content-type": "text/csv" },
    payload: "a,b,label\n1,2,0\n3,4,1\n",
  });
  expect(upload.statusCode).toBe(201);
  Object.assign(owned, {
    job: job.id,
    checkpoint: checkpoint.id,
    file: "weights.bin",
    name: "log.csv",
    dataset: upload.json().id,
  });
});
afterAll(() => api.close());

/**
 * A concrete URL for a route, naming the owner's resources. A route with a parameter this table does not
 * know fails here: whoever adds it decides what it names, and so what another tenant must not reach.
 */
function concrete(url: string): string {
  return url.replace(/:(\w+)/g, (_, param: string) => {
    if (url.startsWith("/v1/admin/")) return param === "id" ? owner.id : unknownParam(url, param);
    if (url.startsWith("/v1/datasets/")) return param === "id" ? owned.dataset : unknownParam(url, param);
    const value = { id: owned.job, checkpoint: owned.checkpoint, file: owned.file, name: owned.name }[param];
    return value ?? unknownParam(url, param);
  });
}

function unknownParam(url: string, param: string): never {
  throw new Error(`${url}: add what :${param} names to tenants.int.test.ts before opening the route`);
}

const send = (method: string, url: string, headers: Record<string, string> = {}) =>
  api.app.inject({ method: method as "GET", url, headers });

describe("two tenants over every route", () => {
  it("lists routes with a rule each, and only health, readiness, the OpenAPI document and the dashboard's page and assets are public", () => {
    const routes = routesOf(api.app);
    expect(routes.length).toBeGreaterThan(15);
    expect(
      routes
        .filter((route) => route.auth === "public")
        .map((route) => route.url)
        .sort(),
    ).toEqual(["/", "/assets/:file", "/healthz", "/openapi.json", "/readyz"]);
  });

  it("keeps the fleet's views behind the admin key: tenants, keys, live workers, Prometheus metrics", () => {
    expect(
      routesOf(api.app)
        .filter((route) => route.auth === "admin")
        .map((route) => `${route.method} ${route.url}`)
        .sort(),
    ).toEqual([
      "DELETE /v1/admin/keys/:id",
      "GET /metrics",
      "GET /v1/admin/tenants/:id/keys",
      "GET /v1/workers",
      "POST /v1/admin/tenants",
      "POST /v1/admin/tenants/:id/keys",
    ]);
  });

  it("answers 401 in the error shape to a request without a key, or with a wrong one", async () => {
    for (const route of routesOf(api.app).filter((r) => r.auth !== "public")) {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: "Bearer plat_not-a-key" },
        { authorization: "Basic eDp5" },
      ];
      for (const headers of attempts) {
        const response = await send(route.method, concrete(route.url), headers);
        expect(response.statusCode, `${route.method} ${route.url} ${JSON.stringify(headers)}`).toBe(401);
        expect(response.json()).toMatchObject({ error: "unauthorized", details: [] });
      }
    }
  });

  it("answers another tenant's ids exactly as unknown ids: 404, never data", async () => {
    const scoped = routesOf(api.app).filter(
      (route) => route.auth !== "public" && route.auth !== "admin" && route.url.includes(":"),
    );
    expect(scoped.length).toBeGreaterThan(6);
    for (const route of scoped) {
      const theirs = await send(route.method, concrete(route.url), stranger.headers);
      const unknown = await send(
        route.method,
        concrete(route.url).replaceAll(owned.job, randomUUID()).replaceAll(owned.dataset, randomUUID()),
        stranger.headers,
      );
      const what = `${route.method} ${route.url}`;
      expect(theirs.statusCode, what).toBe(404);
      expect(theirs.statusCode, what).toBe(unknown.statusCode);
      expect(theirs.json().error, what).toBe(unknown.json().error);
      expect(theirs.body, what).not.toContain(owned.checkpoint);
    }
    // The owner's job was not cancelled by the stranger's POST …/cancel.
    const job = await api.inject({ url: `/v1/jobs/${owned.job}` });
    expect(job.json()).toMatchObject({ status: "queued", cancelled_by: null });
  });

  it("keeps list pages and dataset references to the caller's tenant", async () => {
    const theirs = await send("GET", "/v1/jobs?limit=100", stranger.headers);
    expect(theirs.json().items.map((job: { id: string }) => job.id)).not.toContain(owned.job);
    const ours = await api.inject({ url: "/v1/jobs?limit=100" });
    expect(ours.json().items.map((job: { id: string }) => job.id)).toContain(owned.job);

    const spec = { ...exampleJob(), data: { source: "dataset", id: owned.dataset, label: "label" } };
    const stolen = await api.app.inject({
      method: "POST",
      url: "/v1/jobs",
      headers: stranger.headers,
      payload: spec,
    });
    expect(stolen.statusCode).toBe(400);
    expect(stolen.json().details).toEqual([
      { path: "/data/id", message: expect.stringMatching(/^no dataset/) },
    ]);
  });

  it("refuses tenant keys on admin routes and the admin key on tenant routes", async () => {
    const admin = { authorization: `Bearer ${ADMIN_API_KEY}` };
    expect((await send("POST", "/v1/admin/tenants", owner.headers)).statusCode).toBe(401);
    expect((await send("GET", "/v1/jobs", admin)).statusCode).toBe(401);
  });

  it("records who submitted and who cancelled a job", async () => {
    const submitted = await api.inject({ method: "POST", url: "/v1/jobs", payload: exampleJob() });
    expect(submitted.statusCode).toBe(201);
    const id = submitted.json().id;
    expect(submitted.json()).toMatchObject({ submitted_by: owner.keyId, cancelled_by: null });
    await api.inject({ method: "POST", url: `/v1/jobs/${id}/cancel` });
    expect((await api.inject({ url: `/v1/jobs/${id}` })).json()).toMatchObject({ cancelled_by: owner.keyId });
  });
});

describe("API keys", () => {
  const admin = { authorization: `Bearer ${ADMIN_API_KEY}` };

  it("are created by the admin, shown once, listed by prefix, and refused from the moment they are revoked", async () => {
    const tenant = await api.app.inject({
      method: "POST",
      url: "/v1/admin/tenants",
      headers: admin,
      payload: { name: `team-${randomUUID().slice(0, 8)}` },
    });
    expect(tenant.statusCode).toBe(201);
    const created = await api.app.inject({
      method: "POST",
      url: `/v1/admin/tenants/${tenant.json().id}/keys`,
      headers: admin,
      payload: { name: "ci" },
    });
    expect(created.statusCode).toBe(201);
    const { id, key } = created.json();
    expect(key).toMatch(/^plat_[A-Za-z0-9_-]{32}$/);
    const headers = { authorization: `Bearer ${key}` };
    expect((await send("GET", "/v1/jobs", headers)).statusCode).toBe(200);

    const listed = await api.app.inject({
      url: `/v1/admin/tenants/${tenant.json().id}/keys`,
      headers: admin,
    });
    expect(listed.json().items).toEqual([
      expect.objectContaining({ id, name: "ci", prefix: key.slice(0, 13), revoked_at: null }),
    ]);
    expect(listed.body).not.toContain(key);
    expect(await api.deps.db.apiKey.count({ where: { hash: key } })).toBe(0);

    const revoked = await api.app.inject({ method: "DELETE", url: `/v1/admin/keys/${id}`, headers: admin });
    expect(revoked.json().revoked_at).not.toBeNull();
    expect((await send("GET", "/v1/jobs", headers)).statusCode).toBe(401);
  });
});

describe("model URLs", () => {
  const tokens = () => new ModelTokens(api.deps.db, URL_SIGNING_SECRET);

  it("load with no headers through their token, which opens that checkpoint of that job only", async () => {
    const best = (await api.inject({ url: `/v1/jobs/${owned.job}/checkpoints/best` })).json();
    const url = new URL(best.model_url);
    const model = await tf.loadLayersModel(`${api.url}${url.pathname}${url.search}`);
    expect(model.countParams()).toBe(3);

    const token = url.searchParams.get("token") ?? "";
    const otherCheckpoint = `/v1/jobs/${owned.job}/checkpoints/${randomUUID()}/model.json?token=${token}`;
    const otherJob = `/v1/jobs/${randomUUID()}/checkpoints/${owned.checkpoint}/model.json?token=${token}`;
    const tampered = `${url.pathname}?token=${token.slice(0, -2)}xx`;
    for (const path of [otherCheckpoint, otherJob, tampered, url.pathname]) {
      expect((await send("GET", path)).statusCode, path).toBe(401);
    }
  });

  it("name the final model apart from checkpoints: neither token opens the other", async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2] })] });
    await saveModel(api.deps.storage, finalModelPrefix(owned.job), model);
    const final = await api.inject({ url: `/v1/jobs/${owned.job}/model` });
    expect(final.statusCode).toBe(200);
    const url = new URL(final.json().model_url);
    expect(url.pathname).toBe(`/v1/jobs/${owned.job}/model/model.json`);
    expect((await tf.loadLayersModel(`${api.url}${url.pathname}${url.search}`)).countParams()).toBe(6);
    const token = url.searchParams.get("token") ?? "";
    const asCheckpoint = `/v1/jobs/${owned.job}/checkpoints/${owned.checkpoint}/model.json?token=${token}`;
    expect((await send("GET", asCheckpoint)).statusCode).toBe(401);
    const best = new URL(
      (await api.inject({ url: `/v1/jobs/${owned.job}/checkpoints/best` })).json().model_url,
    );
    const withCheckpointToken = `${url.pathname}?${best.searchParams}`;
    expect((await send("GET", withCheckpointToken)).statusCode).toBe(401);
    expect((await send("GET", url.pathname)).statusCode).toBe(401);
    await deletePrefix(api.deps.storage, finalModelPrefix(owned.job));
  });

  it("stop working at expires_at", async () => {
    const artifact = { tenantId: owner.id, jobId: owned.job, checkpointId: owned.checkpoint };
    const expired = await tokens().sign(artifact, new Date(Date.now() - 1000));
    const path = `/v1/jobs/${owned.job}/checkpoints/${owned.checkpoint}/model.json?token=${expired}`;
    expect((await send("GET", path)).statusCode).toBe(401);
    const forStranger = await tokens().sign(
      { ...artifact, tenantId: stranger.id },
      new Date(Date.now() + 60_000),
    );
    expect((await send("GET", path.replace(expired, forStranger))).statusCode).toBe(401);
    const fresh = await tokens().sign(artifact, new Date(Date.now() + 60_000));
    expect((await send("GET", path.replace(expired, fresh))).statusCode).toBe(200);
  });
});
