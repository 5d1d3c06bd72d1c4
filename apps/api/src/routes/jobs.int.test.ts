import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { appendEvents, eventsAfter, finishJob, getJob, markRunning } from "@plateau/db";
import { cancelChannel, createRedis } from "@plateau/queue";
import { exampleJob } from "@plateau/spec/example";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../test-api";

// A queue of our own: other integration files run workers on the run's queue.
const base = loadConfig();
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({
    REDIS_PREFIX: `${base.REDIS_PREFIX}-api-jobs`,
    MAX_EPOCHS: 100,
    MAX_PARAMS: 1000,
    MAX_INLINE_BYTES: 8192,
  });
});
afterAll(async () => {
  await api.deps.queue.obliterate({ force: true });
  await api.close();
});
beforeEach(() => api.deps.queue.drain(true));

/** The example job, shortened to five epochs with one callback. */
const validSpec = (name: string) => {
  const example = exampleJob();
  return {
    ...example,
    name,
    fit: { ...example.fit, epochs: 5 },
    callbacks: [{ type: "EarlyStopping", monitor: "val_loss", patience: 2 }] as Record<string, unknown>[],
  };
};

const post = (payload: unknown) =>
  api.inject({ method: "POST", url: "/v1/jobs", payload: payload as object });

async function expectNothingStored(name: string) {
  // This API's tenant only: other test files share the database, and job names are not unique.
  expect(await api.deps.db.job.count({ where: { name, tenantId: api.tenant.id } })).toBe(0);
  expect(await api.deps.queue.count()).toBe(0);
}

describe("POST /v1/jobs", () => {
  it("stores the effective spec with its queued event and enqueues the job under its id", async () => {
    const response = await post(validSpec("iris-ok"));
    expect(response.statusCode).toBe(201);
    const job = response.json();
    expect(job).toMatchObject({
      name: "iris-ok",
      status: "queued",
      epochs: 5,
      stop_reason: null,
      best: null,
    });
    // Defaults made explicit and TerminateOnNaN added.
    expect(job.spec.callbacks).toEqual([
      expect.objectContaining({ type: "EarlyStopping", monitor: "val_loss", patience: 2, min_delta: 0 }),
      { type: "TerminateOnNaN", raise_error: false },
    ]);
    expect(job.spec.fit).toMatchObject({ batch_size: 16, shuffle: true, initial_epoch: 0 });

    const row = await getJob(api.deps.db, job.id);
    expect(row?.spec).toEqual(job.spec);
    const events = await eventsAfter(api.deps.db, job.id, 0, { limit: 10 });
    expect(events.map((e) => [e.seq, e.type, e.data])).toEqual([[1, "status", { status: "queued" }]]);
    const queued = await api.deps.queue.getJob(job.id);
    expect(queued?.data).toEqual({ jobId: job.id });
    expect(await api.deps.queue.getJobState(job.id)).toBe("waiting");

    const read = await api.inject({ url: `/v1/jobs/${job.id}` });
    expect(read.json()).toEqual(job);
  });

  it.each([
    [
      "unknown callback type",
      (s: ReturnType<typeof validSpec>) => (s.callbacks = [{ type: "ReduceLROnPlateu" }]),
      "/callbacks/0/type",
      /unknown callback type 'ReduceLROnPlateu'/,
    ],
    [
      "unknown option",
      (s: ReturnType<typeof validSpec>) =>
        (s.callbacks = [{ type: "EarlyStopping", monitor: "loss", patiense: 3 }]),
      "/callbacks/0/patiense",
      /unknown option/,
    ],
    [
      "wrong type",
      (s: ReturnType<typeof validSpec>) => ((s.fit as Record<string, unknown>).epochs = "5"),
      "/fit/epochs",
      /integer/,
    ],
    [
      "val_loss without validation data",
      (s: ReturnType<typeof validSpec>) => delete (s.fit as Record<string, unknown>).validation_split,
      "/callbacks/0/monitor",
      /"val_loss" is not logged/,
    ],
    [
      "unsupported layer",
      (s: ReturnType<typeof validSpec>) => (s.model.layers[1].class_name = "Transformer"),
      "/model/layers/1",
      /Transformer/,
    ],
    [
      "epochs over MAX_EPOCHS",
      (s: ReturnType<typeof validSpec>) => (s.fit.epochs = 101),
      "/fit/epochs",
      /<= 100/,
    ],
    [
      "too many parameters",
      (s: ReturnType<typeof validSpec>) => (s.model.layers[0].config.units = 200),
      "/model",
      /at most 1000/,
    ],
    [
      "unknown dataset",
      (s: ReturnType<typeof validSpec>) =>
        ((s as Record<string, unknown>).data = { source: "dataset", id: randomUUID(), label: "y" }),
      "/data/id",
      /no dataset/,
    ],
  ])(
    "rejects a spec with %s: 400 with the path, nothing stored or queued",
    async (_, spoil, path, message) => {
      const name = `bad-${randomUUID().slice(0, 8)}`;
      const spec = validSpec(name);
      spoil(spec);
      const response = await post(spec);
      expect(response.statusCode).toBe(400);
      const body = response.json();
      expect(body.error).toBe("invalid_spec");
      expect(body.details).toEqual(
        expect.arrayContaining([
          { path: expect.stringMatching(`^${path}`), message: expect.stringMatching(message) },
        ]),
      );
      await expectNothingStored(name);
    },
  );

  it.each([
    ["another bucket", "s3://other-bucket/creds.csv", /names bucket "other-bucket"/],
    ["a .. climbing into another bucket", "s3://{bucket}/../other-bucket/creds.csv", /no "\.\."/],
    ["a .. inside the bucket", "s3://{bucket}/uploads/../jobs/x/model.json", /no "\.\."/],
    ["an encoded ..", "s3://{bucket}/uploads/%2e%2e/jobs/x/model.json", /no "\.\."/],
    ["the service's checkpoints", "s3://{bucket}/jobs/x/checkpoints/best/model.json", /not readable by jobs/],
    ["an uploaded dataset's key", "s3://{bucket}/datasets/x/train.csv", /not readable by jobs/],
    ["a key outside DATA_URI_PREFIXES", "s3://{bucket}/private/creds.csv", /under s3:\/\/.*\/uploads\//],
    [
      "another tenant's upload folder",
      `s3://{bucket}/uploads/${randomUUID()}/train.csv`,
      /not readable by jobs/,
    ],
  ])("refuses data.uri at %s: 400 at /data/uri, nothing stored or queued", async (_, uri, message) => {
    const name = `uri-${randomUUID().slice(0, 8)}`;
    for (const at of ["data", "validation"]) {
      const spec = validSpec(name) as Record<string, unknown>;
      const source = {
        source: "uri",
        uri: uri.replace("{bucket}", api.deps.storage.bucket),
        label: "species",
      };
      spec.data = at === "data" ? source : { ...(spec.data as object), validation: source };
      if (at === "validation") spec.fit = { epochs: 5 };
      const response = await post(spec);
      expect(response.statusCode).toBe(400);
      expect(response.json().details).toEqual(
        expect.arrayContaining([
          {
            path: at === "data" ? "/data/uri" : "/data/validation/uri",
            message: expect.stringMatching(message),
          },
        ]),
      );
    }
    await expectNothingStored(name);
  });

  it("refuses a Functional model whose layer is its own input (once an endless loop) and stays responsive", async () => {
    const name = `cycle-${randomUUID().slice(0, 8)}`;
    const layer = (class_name: string, layerName: string, inbound: unknown[], config: object) => ({
      class_name,
      name: layerName,
      config: { name: layerName, ...config },
      inbound_nodes: inbound,
    });
    const spec = {
      ...validSpec(name),
      model: {
        keras_json: {
          class_name: "Functional",
          config: {
            layers: [
              layer("InputLayer", "x", [], { batch_input_shape: [null, 4] }),
              layer("Dense", "loop", [[["loop", 0, 0, {}]]], { units: 3, activation: "softmax" }),
            ],
            input_layers: [["x", 0, 0]],
            output_layers: [["loop", 0, 0]],
          },
        },
      },
    };
    const response = await post(spec);
    expect(response.statusCode).toBe(400);
    expect(response.json().details).toEqual([
      { path: "/model/keras_json/config/layers/1/inbound_nodes/0", message: expect.stringMatching(/cycle/) },
    ]);
    expect((await api.inject({ url: "/healthz" })).statusCode).toBe(200);
    await expectNothingStored(name);
  });

  it("builds a model it cannot count from configs (a convolution) to count it and check its shapes", async () => {
    const name = `built-${randomUUID().slice(0, 8)}`;
    const convolution = (class_name: string, filters: number) => ({
      ...validSpec(name),
      model: {
        layers: [
          { class_name: "Reshape", config: { target_shape: [4, 1], input_shape: [4] } },
          { class_name, config: { filters, kernel_size: 2, activation: "relu" } },
          { class_name: "Flatten" },
          { class_name: "Dense", config: { units: 3, activation: "softmax" } },
        ],
      },
    });
    const tooBig = await post(convolution("Conv1D", 400));
    expect(tooBig.statusCode).toBe(400);
    // Conv1D 2×1×400 + 400, then Dense (3 × 400) × 3 + 3.
    expect(tooBig.json().details).toEqual([
      { path: "/model", message: expect.stringMatching(/^has 4803 parameters/) },
    ]);
    // Conv2D wants rows, columns and channels per sample; the reshaped samples have two axes.
    const misshapen = await post(convolution("Conv2D", 2));
    expect(misshapen.statusCode).toBe(400);
    expect(misshapen.json().details).toEqual([
      { path: "/model", message: expect.stringMatching(/^the model cannot be built: .*ndim/) },
    ]);
    await expectNothingStored(name);
    expect((await post(convolution("Conv1D", 2))).statusCode).toBe(201);
  });

  it("reports every problem of a spec in one answer", async () => {
    const spec = validSpec("many-problems") as Record<string, unknown>;
    spec.fit = { epochs: 0, batch_size: "16" };
    spec.callbacks = [{ type: "Nope" }, { type: "ReduceLROnPlateau", factor: 2 }];
    spec.colour = "red";
    const response = await post(spec);
    expect(response.statusCode).toBe(400);
    const paths = response.json().details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/fit/epochs",
        "/fit/batch_size",
        "/callbacks/0/type",
        "/callbacks/1/factor",
        "/colour",
      ]),
    );
    await expectNothingStored("many-problems");
  });

  it("answers a body over MAX_INLINE_BYTES with 413 in the error shape", async () => {
    const spec = validSpec("too-big") as Record<string, unknown>;
    spec.data = {
      source: "inline",
      x: Array.from({ length: 1000 }, () => [1, 2, 3, 4]),
      y: Array(1000).fill(0),
    };
    const response = await post(spec);
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ error: "payload_too_large", details: [] });
    await expectNothingStored("too-big");
  });
});

describe("GET /v1/jobs", () => {
  it("pages newest first with a cursor, filters by status, and rejects a forged cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post(validSpec(`page-${i}`))).json().id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response: {
        statusCode: number;
        json(): { items: { id: string }[]; next_cursor: string | null };
      } = await api.inject({
        url: "/v1/jobs",
        query: { limit: "2", status: "queued", ...(cursor && { cursor }) },
      });
      expect(response.statusCode).toBe(200);
      const page = response.json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) expect(item).not.toHaveProperty("spec");
      seen.push(...page.items.map((item: { id: string }) => item.id));
      cursor = page.next_cursor;
    } while (cursor);
    const ours = seen.filter((id) => ids.includes(id));
    expect(ours).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);

    const bad = await api.inject({ url: "/v1/jobs?cursor=bm9wZQ" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: "invalid_cursor", details: [{ path: "/querystring/cursor" }] });
  });

  it("answers an unknown job with 404 and a malformed id with 400", async () => {
    const missing = await api.inject({ url: `/v1/jobs/${randomUUID()}` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toBe("not_found");
    const malformed = await api.inject({ url: "/v1/jobs/not-a-uuid" });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().details).toEqual([
      { path: "/params/id", message: expect.stringContaining("uuid") },
    ]);
  });
});

describe("POST /v1/jobs/:id/cancel", () => {
  const cancel = (id: string) => api.inject({ method: "POST", url: `/v1/jobs/${id}/cancel` });

  it("cancels a queued job at once: off the queue, cancelled/user_cancel, terminal event appended", async () => {
    const { id } = (await post(validSpec("cancel-queued"))).json();
    const response = await cancel(id);
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ id, status: "cancelled" });
    expect(await api.deps.queue.getJob(id)).toBeUndefined();
    expect(await getJob(api.deps.db, id)).toMatchObject({ status: "cancelled", stopReason: "user_cancel" });
    const events = await eventsAfter(api.deps.db, id, 0, { limit: 10 });
    expect(events.map((e) => [e.seq, e.data])).toEqual([
      [1, { status: "queued" }],
      [2, { status: "cancelled", stop_reason: "user_cancel" }],
    ]);
    expect((await cancel(id)).statusCode).toBe(409);
  });

  it("tells the workers to stop a running job, and answers 409 once it has finished", async () => {
    const { id } = (await post(validSpec("cancel-running"))).json();
    await markRunning(api.deps.db, id, { backend: "cpu", worker: "test" });
    await appendEvents(api.deps.db, [{ jobId: id, seq: 2, type: "status", data: { status: "running" } }]);
    const subscriber = createRedis(api.deps.config, "subscriber");
    try {
      await subscriber.subscribe(cancelChannel(api.deps.config));
      const heard = new Promise((resolve) =>
        subscriber.on("message", (_channel, message) => resolve(message)),
      );
      const response = await cancel(id);
      expect(response.statusCode).toBe(202);
      expect(response.json()).toEqual({ id, status: "running" });
      expect(await heard).toBe(id);
      expect((await getJob(api.deps.db, id))?.cancelRequestedAt).toBeInstanceOf(Date);
    } finally {
      subscriber.disconnect();
    }
    await finishJob(api.deps.db, id, { stopReason: "user_cancel" });
    const finished = await cancel(id);
    expect(finished.statusCode).toBe(409);
    expect(finished.json().message).toContain("already finished");
    expect((await cancel(randomUUID())).statusCode).toBe(404);
  });
});
