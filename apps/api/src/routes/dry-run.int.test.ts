import { loadConfig } from "@plateau/config";
import type { DryRunResult } from "@plateau/contract";
import { exampleJob } from "@plateau/spec/example";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../test-api";

const base = loadConfig();
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX: `${base.REDIS_PREFIX}-api-dry-run` });
});
afterAll(() => api.close());

const dryRun = (payload: unknown, query = "dry_run=true") =>
  api.inject({ method: "POST", url: `/v1/jobs?${query}`, payload: payload as object });

async function jobsStored(): Promise<number> {
  return api.deps.db.job.count({ where: { tenantId: api.tenant.id } });
}

describe("POST /v1/jobs?dry_run=true", () => {
  it("answers the effective spec of a valid job and stores nothing", async () => {
    const response = await dryRun(exampleJob());
    expect(response.statusCode, response.body).toBe(200);
    const result = response.json<DryRunResult>();
    expect(result.valid).toBe(true);
    // The defaults a submission fills in: TerminateOnNaN is already in the example, so the count stays.
    expect(result.spec.name).toBe(exampleJob().name);
    expect(result.spec.callbacks).toContainEqual(
      expect.objectContaining({ type: "ReduceLROnPlateau", cooldown: 0, min_delta: 0.0001, mode: "auto" }),
    );
    expect(await jobsStored()).toBe(0);
  });

  it("lists every problem at its path, as a submission would, and stores nothing", async () => {
    const spec = exampleJob();
    spec.fit.epochs = 0;
    (spec.callbacks[0] as { factor: number }).factor = 2;
    const response = await dryRun(spec);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: "invalid_spec" });
    const paths = response.json().details.map((issue: { path: string }) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(["/fit/epochs", "/callbacks/0/factor"]));
    const submitted = await dryRun(spec, "dry_run=false");
    expect(submitted.json().details).toEqual(response.json().details);
    expect(await jobsStored()).toBe(0);
  });

  it("refuses a dry_run that is not a boolean, naming it", async () => {
    const response = await dryRun(exampleJob(), "dry_run=perhaps");
    expect(response.statusCode).toBe(400);
    expect(JSON.stringify(response.json().details)).toContain("dry_run");
    expect(await jobsStored()).toBe(0);
  });
});
