import { randomUUID } from "node:crypto";
import { loadConfig } from "@plateau/config";
import { exampleJob } from "@plateau/spec/example";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../test-api";

// Webhook specs at submission: what can be checked before a worker calls anything. The calls themselves
// are tested in libs/callbacks (delivery) and libs/training (in real training runs).

const base = loadConfig();
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({
    // A queue of our own, so no worker of another file picks these jobs up.
    REDIS_PREFIX: `${base.REDIS_PREFIX}-api-webhooks`,
    WEBHOOK_ALLOWED_HOSTS: "hooks.example.com,*.example.org,169.254.169.254",
    WEBHOOK_ALLOW_HTTP: false,
  });
});
afterAll(async () => {
  await api.deps.queue.obliterate({ force: true });
  await api.close();
});

const secret = "s3cr3t-that-must-never-come-back";

function specWith(name: string, ...webhooks: Record<string, unknown>[]) {
  const example = exampleJob();
  return {
    ...example,
    name,
    fit: { ...example.fit, epochs: 3 },
    callbacks: webhooks.map((options) => ({ type: "Webhook", secret, ...options })),
  };
}

const post = (payload: unknown) =>
  api.inject({ method: "POST", url: "/v1/jobs", payload: payload as object });

async function expectRefused(
  spec: ReturnType<typeof specWith>,
  details: { path: string; message: unknown }[],
) {
  const response = await post(spec);
  expect(response.statusCode).toBe(400);
  expect(response.json().details).toEqual(details);
  expect(response.body).not.toContain(secret);
  expect(await api.deps.db.job.count({ where: { name: spec.name, tenantId: api.tenant.id } })).toBe(0);
}

describe("Webhook callbacks at submission", () => {
  it("names every bad option of a webhook in one 400: URL, hooks, bounds, secret, unknown fields", async () => {
    await expectRefused(
      specWith(`bad-${randomUUID().slice(0, 8)}`, {
        url: "ftp://hooks.example.com/x",
        hooks: ["on_test_batch_end", "on_predict_end", "on_batch_finish", "on_epoch_end"],
        every_n_batches: 0,
        secret: "short",
        timeout_ms: 60_000,
        max_retries: 9,
        headers: { "x-token": "a" },
      }),
      [
        { path: "/callbacks/0/secret", message: "must not have fewer than 16 characters" },
        { path: "/callbacks/0/every_n_batches", message: "must be >= 1" },
        { path: "/callbacks/0/timeout_ms", message: expect.stringContaining("30000") },
        { path: "/callbacks/0/max_retries", message: expect.stringContaining("5") },
        { path: "/callbacks/0/headers", message: expect.stringContaining("unknown option") },
        { path: "/callbacks/0/url", message: "must be an https:// (or http://) URL, not ftp:" },
        {
          path: "/callbacks/0/hooks/0",
          message:
            "tfjs's fit runs validation without calling callbacks, so on_test_batch_end never fires; the hooks that fire are on_train_begin, on_epoch_begin, on_train_batch_begin, on_train_batch_end, on_epoch_end, on_train_end",
        },
        { path: "/callbacks/0/hooks/1", message: expect.stringMatching(/^a job never predicts/) },
        { path: "/callbacks/0/hooks/2", message: expect.stringMatching(/^unknown hook 'on_batch_finish'/) },
      ],
    );
  });

  it("refuses every_n_batches without a batch hook, and a URL with credentials", async () => {
    await expectRefused(
      specWith(`bad-${randomUUID().slice(0, 8)}`, {
        url: "https://user:pw@hooks.example.com/x",
        every_n_batches: 50,
      }),
      [
        {
          path: "/callbacks/0/url",
          message: "must not carry credentials (user:password@); the secret signs every request",
        },
        {
          path: "/callbacks/0/every_n_batches",
          message: "applies to on_train_batch_begin and on_train_batch_end only, and hooks lists neither",
        },
      ],
    );
  });

  it("refuses targets this service does not allow: http, hosts off the allowlist, non-public addresses", async () => {
    await expectRefused(
      specWith(
        `bad-${randomUUID().slice(0, 8)}`,
        { url: "http://hooks.example.com/x" },
        { url: "https://hooks.example.net/x" },
        { url: "https://example.org/x" },
        { url: "https://169.254.169.254/latest/meta-data" },
      ),
      [
        {
          path: "/callbacks/0/url",
          message: "must be an https:// URL: this service does not allow http (WEBHOOK_ALLOW_HTTP)",
        },
        {
          path: "/callbacks/1/url",
          message:
            "host hooks.example.net is not in this service's WEBHOOK_ALLOWED_HOSTS: it allows hooks.example.com, *.example.org, 169.254.169.254",
        },
        { path: "/callbacks/2/url", message: expect.stringMatching(/^host example\.org is not in/) },
        {
          path: "/callbacks/3/url",
          message:
            "169.254.169.254 is a linkLocal address, which this service's WEBHOOK_ALLOWED_NETWORKS does not open",
        },
      ],
    );
  });

  it("accepts an allowed webhook with Keras-named hooks and never shows its secret again", async () => {
    const name = `ok-${randomUUID().slice(0, 8)}`;
    const response = await post(
      specWith(name, {
        url: "https://ci.example.org/plateau",
        hooks: ["on_epoch_end", "on_train_batch_end"],
        every_n_batches: 50,
      }),
    );
    expect(response.statusCode).toBe(201);
    const job = response.json();
    const webhook = {
      type: "Webhook",
      url: "https://ci.example.org/plateau",
      hooks: ["on_epoch_end", "on_train_batch_end"],
      every_n_batches: 50,
      secret: "[redacted]",
      timeout_ms: 5000,
      max_retries: 2,
      on_failure: "warn",
    };
    expect(job.spec.callbacks[0]).toEqual(webhook);
    const read = await api.inject({ url: `/v1/jobs/${job.id}` });
    expect(read.json().spec.callbacks[0]).toEqual(webhook);
    expect(response.body + read.body).not.toContain(secret);
    // The worker needs it to sign: stored with the job, only there.
    const row = await api.deps.db.job.findUnique({ where: { id: job.id } });
    expect(row?.spec).toMatchObject({ callbacks: [{ type: "Webhook", secret }, { type: "TerminateOnNaN" }] });
  });
});
