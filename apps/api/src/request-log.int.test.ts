import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTenant, type TestTenant } from "../../../test/tenants";
import type { App } from "./app";
import { type ApiDeps, closeDeps, createDeps } from "./deps";
import { buildServer } from "./server";

const lines: Record<string, unknown>[] = [];
let deps: ApiDeps;
let app: App;
let tenant: TestTenant;

beforeAll(async () => {
  deps = createDeps({ ...loadConfig(), REDIS_PREFIX: `${loadConfig().REDIS_PREFIX}-request-log` });
  deps.log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  app = await buildServer(deps);
  tenant = await createTestTenant(deps.db, "request-log");
});
afterAll(async () => {
  await app.close();
  await closeDeps(deps);
});

const completed = (reqId: unknown) =>
  lines.find((line) => line.msg === "request completed" && line.reqId === reqId);

describe("request logs", () => {
  it("carry job_id on a job's routes, and not elsewhere", async () => {
    const id = randomUUID();
    const job = await app.inject({ url: `/v1/jobs/${id}/checkpoints`, headers: tenant.headers });
    expect(job.statusCode).toBe(404);
    const list = await app.inject({ url: "/v1/jobs", headers: tenant.headers });
    expect(list.statusCode).toBe(200);

    const [jobRequest, listRequest] = ["/checkpoints", "/v1/jobs"].map(
      (end) =>
        lines.find(
          (line) =>
            line.msg === "incoming request" && String((line.req as { url: string }).url).endsWith(end),
        )?.reqId,
    );
    expect(completed(jobRequest)).toMatchObject({ job_id: id, res: { statusCode: 404 } });
    expect(completed(listRequest)).toMatchObject({ res: { statusCode: 200 } });
    expect(completed(listRequest)).not.toHaveProperty("job_id");
  });
});
