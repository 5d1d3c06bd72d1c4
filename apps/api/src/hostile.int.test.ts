// biome-ignore-all lint/suspicious/noThenProperty: `then` is the Rule spec's documented field; these objects are request bodies, never awaited.
import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { appendEvents, createJob } from "@plateau/db";
import { exampleJob } from "@plateau/spec/example";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./test-api";

// The hostile inputs an outside test found, each once: a 4xx in the error shape naming the field, and
// for submissions nothing stored or queued. apps/api/src/fuzz.int.test.ts explores around them.

const base = loadConfig();
let api: TestApi;
let jobId: string;
beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX: `${base.REDIS_PREFIX}-api-hostile` });
  jobId = (await createJob(api.deps.db, { tenantId: api.tenant.id, name: "hostile", spec: {}, epochs: 1 }))
    .id;
  await appendEvents(api.deps.db, [{ jobId, seq: 1, type: "status", data: { status: "queued" } }]);
});
afterAll(async () => {
  await api.deps.queue.obliterate({ force: true });
  await api.close();
});

const json = (url: string, payload: string, contentType = "application/json") =>
  api.inject({ method: "POST", url, payload, headers: { "content-type": contentType } });

async function jobsStored(): Promise<[number, number]> {
  return [await api.deps.db.job.count({ where: { tenantId: api.tenant.id } }), await api.deps.queue.count()];
}

/** The answer is a 4xx in the error shape with a detail at `path` whose message matches. */
function expectProblem(
  response: Awaited<ReturnType<TestApi["inject"]>>,
  status: number,
  path: string,
  message: RegExp,
) {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json();
  expect(body).toEqual({
    error: expect.any(String),
    message: expect.any(String),
    details: expect.any(Array),
  });
  expect(body.details).toContainEqual({ path, message: expect.stringMatching(message) });
}

describe("hostile request bodies", () => {
  it.each(["constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"])(
    "a callback of type %s is an unknown type at its path",
    async (type) => {
      const before = await jobsStored();
      const spec = { ...exampleJob(), callbacks: [{ type }] };
      expectProblem(
        await json("/v1/jobs", JSON.stringify(spec)),
        400,
        "/callbacks/0/type",
        /unknown callback type/,
      );
      expect(await jobsStored()).toEqual(before);
      const simulation = { callbacks: [{ type }], epochs: [{ logs: { loss: 1 } }] };
      expectProblem(
        await json("/v1/callbacks/simulate", JSON.stringify(simulation)),
        400,
        "/callbacks/0/type",
        /unknown callback type/,
      );
    },
  );

  it.each([
    ["arrays", "[".repeat(10_000) + "]".repeat(10_000), "/0".repeat(64)],
    ["objects", `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`, "/a".repeat(64)],
  ])("JSON nested 10,000 levels deep (%s) is refused before parsing", async (_, payload, path) => {
    const before = await jobsStored();
    for (const url of ["/v1/jobs", "/v1/callbacks/simulate", "/v1/jobs/x/cancel"]) {
      expectProblem(await json(url, payload), 400, path, /deeper than 64 levels/);
    }
    expect(await jobsStored()).toEqual(before);
  });

  it.each([
    ['{"__proto__": {"admin": true}}', "/__proto__"],
    ['{"name": "x", "fit": {"constructor": {"prototype": {"polluted": 1}}}}', "/fit/constructor"],
    ['{"callbacks": [{"type": "EarlyStopping", "__proto__": null}]}', "/callbacks/0/__proto__"],
  ])("a reserved key anywhere is refused at its path: %s", async (payload, path) => {
    const before = await jobsStored();
    expectProblem(await json("/v1/jobs", payload), 400, path, /reserved property name/);
    expect(await jobsStored()).toEqual(before);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it("numbers beyond a double, truncated JSON, wrong content types and empty bodies are 4xx", async () => {
    const before = await jobsStored();
    const spec = JSON.stringify({ ...exampleJob(), name: "huge" }).replace('"epochs":50', '"epochs":1e400');
    expectProblem(await json("/v1/jobs", spec), 400, "/fit/epochs", /too large/);
    const truncated = await json("/v1/jobs", '{"name": "x');
    expect(truncated.statusCode).toBe(400);
    expect(truncated.json()).toMatchObject({
      error: "bad_request",
      message: expect.stringMatching(/not valid JSON/),
    });
    expectProblem(await json("/v1/jobs", ""), 400, "", /empty/);
    const xml = await json("/v1/jobs", "<job/>", "application/xml");
    expect(xml.statusCode).toBe(415);
    expect(xml.json()).toMatchObject({ error: "unsupported_media_type" });
    const text = await json("/v1/jobs", "hello", "text/plain");
    expect(text.statusCode).toBe(400);
    const latin1 = await api.inject({
      method: "POST",
      url: "/v1/jobs",
      payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
      headers: { "content-type": "application/json" },
    });
    expect(latin1.statusCode).toBe(400);
    expect(await jobsStored()).toEqual(before);
  });

  it.each([
    ["a schedule", { type: "LearningRateScheduler", schedule: "lr / 0" }],
    [
      "a Rule's new rate",
      { type: "Rule", on: "epoch_end", then: { set_learning_rate: "lr / (epoch - epoch)" } },
    ],
    ["a Rule's condition", { type: "Rule", on: "epoch_end", if: "loss / 0 > 1", then: "stop_training" }],
  ])("%s dividing by zero is a 400 from the simulator naming the callback", async (_, callback) => {
    const simulation = {
      callbacks: [{ type: "EarlyStopping", monitor: "loss" }, callback],
      epochs: [{ logs: { loss: 1 } }, { logs: { loss: 0.5 } }],
    };
    const response = await json("/v1/callbacks/simulate", JSON.stringify(simulation));
    expectProblem(response, 400, "/callbacks/1", /division by zero/);
    expect(response.json().message).toMatch(/division by zero/);
  });
});

describe("numbers float32 cannot hold", () => {
  it("a simulated learning rate that float32 rounds to Infinity is a 400 naming it", async () => {
    const simulation = {
      optimizer: { name: "adam", learning_rate: 3.4028235677973366e38 },
      callbacks: [{ type: "ReduceLROnPlateau", monitor: "loss", patience: 1 }],
      epochs: [{ logs: { loss: 1 } }, { logs: { loss: 1 } }, { logs: { loss: 1 } }],
    };
    expectProblem(
      await json("/v1/callbacks/simulate", JSON.stringify(simulation)),
      400,
      "/optimizer/learning_rate",
      /<=/,
    );
  });

  it("so is a job's optimizer learning rate, and nothing is stored", async () => {
    const before = await jobsStored();
    const spec = exampleJob();
    spec.compile.optimizer.learning_rate = 1e300;
    const response = await json("/v1/jobs", JSON.stringify(spec));
    expectProblem(response, 400, "/compile/optimizer/learning_rate", /<=/);
    expect(await jobsStored()).toEqual(before);
  });
});

describe("hostile uploads", () => {
  it.each([
    ["text/plain", '{"a": 1, "label": "x"}\n'],
    ["application/json", '{"a": 1, "label": "x"}'],
    ["application/json", "[1, 2]"],
  ])("a dataset sent as %s is a 415 naming the content type, and nothing is kept", async (type, payload) => {
    const before = await api.deps.db.dataset.count({ where: { tenantId: api.tenant.id } });
    const response = await json("/v1/datasets?filename=train.jsonl", payload, type);
    expectProblem(response, 415, "/headers/content-type", /text\/csv/);
    expect(await api.deps.db.dataset.count({ where: { tenantId: api.tenant.id } })).toBe(before);
  });
});

describe("hostile query strings, paths and headers", () => {
  it.each(["Infinity", "-Infinity", "1e309", "-1e309"])("?limit=%s is a 400 naming limit", async (limit) => {
    expectProblem(await api.inject(`/v1/jobs?limit=${limit}`), 400, "/querystring/limit", /finite|<=|>=/);
  });

  it.each(["9007199254740993", "2147483648", "Infinity"])(
    "metrics ?after=%s is a 400 naming after (seqs are int4)",
    async (after) => {
      expectProblem(
        await api.inject(`/v1/jobs/${jobId}/metrics?after=${after}`),
        400,
        "/querystring/after",
        /<= 2147483647|finite/,
      );
    },
  );

  it("metrics ?after=2147483647 is a page with nothing in it", async () => {
    const response = await api.inject(`/v1/jobs/${jobId}/metrics?after=2147483647`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ items: [], next_after: 2147483647 });
  });

  it.each([
    "-100000-01-01T00:00:00.000Z",
    "-000001-01-01T00:00:00.000Z",
    "0000-01-01T00:00:00.000Z",
    "+275760-09-13T00:00:00.001Z",
    "not a time",
  ])("a cursor that decodes to %s is a 400 naming cursor", async (time) => {
    const cursor = Buffer.from(`${time}|${randomUUID()}`).toString("base64url");
    expectProblem(await api.inject(`/v1/jobs?cursor=${cursor}`), 400, "/querystring/cursor", /cursor/);
  });

  it("a path segment over 100 characters and a broken %-escape answer in the error shape", async () => {
    const long = await api.inject(`/v1/jobs/${"a".repeat(500)}`);
    expect(long.statusCode).toBe(414);
    expect(long.json()).toMatchObject({ error: "uri_too_long", details: [] });
    const broken = await api.inject("/v1/jobs/%E0%A4%A");
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ error: "bad_request", details: [] });
  });
});
