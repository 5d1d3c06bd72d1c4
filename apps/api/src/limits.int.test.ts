import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { exampleJob } from "@plateau/spec/example";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTenant, type TestTenant } from "../../../test/tenants";
import { startTestApi, type TestApi } from "./test-api";

const base = loadConfig();
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({
    REDIS_PREFIX: `${base.REDIS_PREFIX}-limits-${randomUUID().slice(0, 8)}`,
    RATE_LIMIT_PER_MINUTE: 40,
    MAX_ACTIVE_JOBS_PER_TENANT: 3,
    MAX_STREAMS_PER_KEY: 1,
  });
});
afterAll(async () => {
  await api.deps.queue.obliterate({ force: true });
  await api.close();
});

/** A tenant of its own per test, so quotas and rate limits of one test do not touch another. */
async function freshTenant(): Promise<TestTenant> {
  return createTestTenant(api.deps.db, "limits");
}

const job = (name: string) => ({ ...exampleJob(), name, fit: { epochs: 2, validation_split: 0.2 } });
const submit = (tenant: TestTenant, body: unknown, key?: string) =>
  api.app.inject({
    method: "POST",
    url: "/v1/jobs",
    headers: { ...tenant.headers, ...(key ? { "idempotency-key": key } : {}) },
    payload: body as object,
  });
const jobsNamed = (tenantId: string, name: string) => api.deps.db.job.count({ where: { tenantId, name } });

describe("Idempotency-Key", () => {
  it("answers a retry with the same body with the first answer: same job, same status, one job stored", async () => {
    const tenant = await freshTenant();
    const first = await submit(tenant, job("retry"), "key-1");
    expect(first.statusCode).toBe(201);
    // Keys in another order are the same request.
    const reordered = Object.fromEntries(Object.entries(job("retry")).reverse());
    const again = await submit(tenant, reordered, "key-1");
    expect(again.statusCode).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toEqual(first.json());
    expect(await jobsNamed(tenant.id, "retry")).toBe(1);
    expect(await api.deps.queue.getJob(first.json().id)).toBeDefined();
  });

  it("refuses the same key with a different body (422) and keeps keys apart per tenant", async () => {
    const tenant = await freshTenant();
    expect((await submit(tenant, job("one"), "key-2")).statusCode).toBe(201);
    const other = await submit(tenant, job("two"), "key-2");
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ error: "idempotency_key_reused" });
    expect(await jobsNamed(tenant.id, "two")).toBe(0);
    const neighbour = await freshTenant();
    expect((await submit(neighbour, job("two"), "key-2")).statusCode).toBe(201);
  });

  it("starts one training for concurrent duplicates: the others are 409 or the first answer", async () => {
    const tenant = await freshTenant();
    const answers = await Promise.all(Array.from({ length: 8 }, () => submit(tenant, job("burst"), "key-3")));
    const codes = answers.map((answer) => answer.statusCode);
    expect(codes.every((code) => code === 201 || code === 409)).toBe(true);
    expect(new Set(answers.filter((a) => a.statusCode === 201).map((a) => a.json().id)).size).toBe(1);
    expect(await jobsNamed(tenant.id, "burst")).toBe(1);
  });

  it("lets a key be used again after a request it answered with a validation error", async () => {
    const tenant = await freshTenant();
    const invalid = await submit(tenant, { ...job("typo"), fit: { epochs: 0 } }, "key-4");
    expect(invalid.statusCode).toBe(400);
    expect((await submit(tenant, job("typo"), "key-4")).statusCode).toBe(201);
  });

  it("makes dataset uploads safe to retry, and refuses other bytes under the same key", async () => {
    const tenant = await freshTenant();
    const upload = (payload: string) =>
      api.app.inject({
        method: "POST",
        url: "/v1/datasets?filename=train.csv",
        headers: { ...tenant.headers, "content-type": "text/csv", "idempotency-key": "upload-1" },
        payload,
      });
    const first = await upload("a,label\n1,0\n");
    expect(first.statusCode).toBe(201);
    const again = await upload("a,label\n1,0\n");
    expect(again.statusCode).toBe(201);
    expect(again.json().id).toBe(first.json().id);
    expect((await upload("a,label\n2,1\n")).statusCode).toBe(422);
    expect(await api.deps.db.dataset.count({ where: { tenantId: tenant.id } })).toBe(1);
  });
});

describe("quotas and limits", () => {
  it("answers 429 with Retry-After once a tenant has MAX_ACTIVE_JOBS_PER_TENANT jobs queued or running", async () => {
    const tenant = await freshTenant();
    for (const name of ["q1", "q2", "q3"]) expect((await submit(tenant, job(name))).statusCode).toBe(201);
    const over = await submit(tenant, job("q4"));
    expect(over.statusCode).toBe(429);
    expect(over.headers["retry-after"]).toBe("30");
    expect(over.json()).toMatchObject({
      error: "quota_exceeded",
      message: expect.stringMatching(/3 queued or running/),
    });
    expect(await jobsNamed(tenant.id, "q4")).toBe(0);
    // Cancelling one frees a place.
    const [oldest] = (await api.app.inject({ url: "/v1/jobs", headers: tenant.headers }))
      .json()
      .items.slice(-1);
    await api.app.inject({ method: "POST", url: `/v1/jobs/${oldest.id}/cancel`, headers: tenant.headers });
    expect((await submit(tenant, job("q4"))).statusCode).toBe(201);
  });

  it("takes a burst of submissions from two tenants together up to each one's quota, every 201 stored and queued", async () => {
    const tenants = [await freshTenant(), await freshTenant()];
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => submit(tenants[i % 2], job(`burst-${i}`), `burst-${i}`)),
    );
    for (const tenant of tenants) {
      const mine = answers.filter((_, i) => tenants[i % 2] === tenant);
      const accepted = mine.filter((answer) => answer.statusCode === 201).map((answer) => answer.json());
      expect(accepted).toHaveLength(3);
      expect(mine.filter((answer) => answer.statusCode === 429)).toHaveLength(2);
      expect(await api.deps.db.job.count({ where: { tenantId: tenant.id } })).toBe(3);
      for (const created of accepted) {
        expect(await api.deps.queue.getJob(created.id)).toBeDefined();
        expect(await api.deps.db.jobEvent.count({ where: { jobId: created.id } })).toBe(1);
      }
    }
    // A refused submission gave its idempotency key up: the same key may try again.
    const refused = answers.findIndex((answer) => answer.statusCode === 429);
    expect((await submit(tenants[refused % 2], job(`burst-${refused}`), `burst-${refused}`)).statusCode).toBe(
      429,
    );
  });

  it("limits requests per key per minute (in Redis), with Retry-After and rate-limit headers", async () => {
    const tenant = await freshTenant();
    const list = () => api.app.inject({ url: "/v1/jobs", headers: tenant.headers });
    const answers = [];
    for (let i = 0; i < 41; i++) answers.push(await list());
    expect(answers.slice(0, 40).every((answer) => answer.statusCode === 200)).toBe(true);
    const limited = answers[40];
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.headers["x-ratelimit-limit"]).toBe("40");
    expect(limited.json()).toMatchObject({ error: "too_many_requests" });
    // Another key has its own budget; health checks have none.
    expect((await api.inject({ url: "/v1/jobs" })).statusCode).toBe(200);
    expect((await api.app.inject({ url: "/healthz" })).statusCode).toBe(200);
  });

  it("bounds the open event streams of one key", async () => {
    const tenant = await freshTenant();
    const created = (await submit(tenant, job("streamed"))).json();
    const url = `${api.url}/v1/jobs/${created.id}/events`;
    const first = new AbortController();
    const open = await fetch(url, { headers: tenant.headers, signal: first.signal });
    expect(open.status).toBe(200);
    const second = await fetch(url, { headers: tenant.headers });
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("5");
    first.abort();
  });
});
