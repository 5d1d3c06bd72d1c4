import {
  type CallbackEvent,
  CallbackSpecError,
  callbacksFromSpecs,
  type WebhookContext,
  webhookPolicy,
} from "@plateau/callbacks";
import type { CallbackSpec } from "@plateau/contract";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Answer, type Receiver, startReceiver } from "../../../test/webhook-receiver";
import { selectBackend, type Tf } from "./backend";
import { type Logs, train } from "./run";

// Webhook callbacks in real training runs (tfjs on wasm), against a receiver on loopback, which the
// policy opens explicitly as a deployment would for a receiver on its own network.

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("wasm")).tf;
});

const secret = "webhook-test-secret-42";
const webhook: WebhookContext = {
  jobId: "job-webhook-test",
  attempt: 1,
  policy: webhookPolicy({
    WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
    WEBHOOK_ALLOWED_NETWORKS: "127.0.0.0/8",
    WEBHOOK_ALLOW_HTTP: true,
  }),
};
const EPOCHS = 5;
/** 64 samples in batches of 16: four batches an epoch. */
const BATCHES = 4;

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function run(spec: Record<string, unknown>, answer: (p: Record<string, unknown>, i: number) => Answer) {
  const receiver = await startReceiver(secret, answer);
  receivers.push(receiver);
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 4, activation: "relu", inputShape: [2] }),
      tf.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.05), loss: "binaryCrossentropy" });
  const rows = Array.from({ length: BATCHES * 16 }, (_, i) => [Math.sin(i * 12.9898), Math.cos(i * 78.233)]);
  const x = tf.tensor2d(rows);
  const y = tf.tensor2d(rows.map(([a, b]) => [a + b > 0 ? 1 : 0]));
  const events: CallbackEvent[] = [];
  const warnings: string[] = [];
  const callbacks = callbacksFromSpecs(
    [{ type: "Webhook", url: receiver.url, secret, ...spec } as CallbackSpec],
    { onEvent: (e) => events.push(e), warn: (m) => warnings.push(m), webhook },
  );
  const epochLogs: Logs[] = [];
  try {
    const outcome = await train({
      tf,
      model,
      data: { x, y, features: [] },
      args: { epochs: EPOCHS, batchSize: 16, shuffle: false, verbose: 0 },
      callbacks,
      hooks: { epochMetrics: (_, logs) => epochLogs.push(logs) },
    });
    return { outcome, events, warnings, epochLogs, received: receiver.received };
  } finally {
    model.optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  }
}

const hooksCalled = (received: Receiver["received"]) =>
  received.map(
    (r) => `${r.payload.hook}@${r.payload.epoch}${r.payload.batch === null ? "" : `.${r.payload.batch}`}`,
  );

describe("Webhook in training", () => {
  it("stops training when the endpoint replies stop_training, recorded as the callback's decision", async () => {
    const { outcome, events, received } = await run(
      { hooks: ["on_train_begin", "on_epoch_end", "on_train_end"] },
      (payload) =>
        payload.hook === "on_epoch_end" && payload.epoch === 1 ? { body: '{"stop_training": true}' } : {},
    );
    expect(outcome.stopReason).toBe("early_stopping");
    expect(outcome.lastEpoch).toBe(1);
    expect(hooksCalled(received)).toEqual([
      "on_train_begin@0",
      "on_epoch_end@0",
      "on_epoch_end@1",
      "on_train_end@1",
    ]);
    expect(events).toEqual([
      { callback: "Webhook", action: "stop_training", epoch: 1, details: { hook: "on_epoch_end" } },
    ]);
    expect(received.every((r) => r.signed)).toBe(true);
    const [, firstEpoch] = received;
    expect(firstEpoch.payload).toMatchObject({ job_id: webhook.jobId, attempt: 1, batch: null });
    expect(Object.keys(firstEpoch.payload.logs as object)).toEqual(["loss"]);
    expect(firstEpoch.payload.learning_rate).toBe(Math.fround(0.05));
  });

  it("applies a stop replied to on_train_begin at the first step, which tfjs would otherwise reset", async () => {
    const { outcome, events, epochLogs } = await run({ hooks: ["on_train_begin"] }, () => ({
      body: '{"stop_training": true}',
    }));
    expect(outcome).toMatchObject({ stopReason: "early_stopping", lastEpoch: 0 });
    expect(epochLogs).toHaveLength(1);
    expect(events).toEqual([
      { callback: "Webhook", action: "stop_training", epoch: 0, details: { hook: "on_train_begin" } },
    ]);
  });

  it("sets the learning rate the next epoch trains at when the endpoint replies learning_rate", async () => {
    const { outcome, events, epochLogs } = await run({ hooks: ["on_epoch_end"] }, (payload) =>
      payload.epoch === 1 ? { body: '{"learning_rate": 0.003}' } : { status: 204 },
    );
    expect(outcome.stopReason).toBe("completed");
    expect(epochLogs.map((logs) => logs.learning_rate)).toEqual([
      Math.fround(0.05),
      Math.fround(0.05),
      Math.fround(0.003),
      Math.fround(0.003),
      Math.fround(0.003),
    ]);
    expect(events).toEqual([
      {
        callback: "Webhook",
        action: "set_lr",
        epoch: 1,
        details: { hook: "on_epoch_end", from: Math.fround(0.05), to: Math.fround(0.003) },
      },
    ]);
  });

  it("goes on training when the endpoint never answers, recording the failure after timeout_ms", async () => {
    const { outcome, events, warnings, received } = await run(
      { hooks: ["on_epoch_end"], timeout_ms: 200, max_retries: 1 },
      (payload) => (payload.epoch === 0 ? "hang" : {}),
    );
    expect(outcome).toMatchObject({ stopReason: "completed", lastEpoch: EPOCHS - 1 });
    // Every epoch called it; the first call was given up on (the receiver saw the client leave).
    expect(hooksCalled(received)).toEqual([0, 1, 2, 3, 4].map((epoch) => `on_epoch_end@${epoch}`));
    expect(received[0].abandoned).toBe(true);
    expect(events).toEqual([
      {
        callback: "Webhook",
        action: "webhook_failed",
        epoch: 0,
        details: { hook: "on_epoch_end", error: "no answer within timeout_ms 200 (1 attempt)", attempts: 1 },
      },
    ]);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^Webhook: on_epoch_end call to 127\.0\.0\.1:\d+ failed: no answer within timeout_ms 200 \(1 attempt\); training goes on/,
      ),
    ]);
  });

  it("does not wait for batch hooks: one call in flight, the batches due meanwhile skipped and counted", async () => {
    const { outcome, events, received } = await run(
      { hooks: ["on_train_batch_end"], every_n_batches: 2, timeout_ms: 200 },
      () => "hang",
    );
    expect(outcome).toMatchObject({ stopReason: "completed", lastEpoch: EPOCHS - 1 });
    const skipped = events
      .filter((e) => e.action === "webhook_skipped")
      .reduce((sum, e) => sum + (e.details.count as number), 0);
    const failed = events.filter((e) => e.action === "webhook_failed");
    // Batches 0 and 2 of each epoch are due; each was either called (and timed out) or skipped.
    expect(received.length + skipped).toBe(EPOCHS * 2);
    expect(failed).toHaveLength(received.length);
    expect(
      received.every((r) => r.payload.hook === "on_train_batch_end" && (r.payload.batch as number) % 2 === 0),
    ).toBe(true);
  });

  it('fails the job when the endpoint fails and on_failure is "fail"', async () => {
    const failing = run({ hooks: ["on_epoch_end"], on_failure: "fail" }, () => ({ status: 410 }));
    await expect(failing).rejects.toSatisfy(
      (error) =>
        error instanceof CallbackSpecError &&
        /^Webhook: on_epoch_end call to 127\.0\.0\.1:\d+ failed: answered 410 \(1 attempt\)/.test(
          error.message,
        ),
    );
  });
});
