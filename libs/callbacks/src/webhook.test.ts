import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "../../../test/webhook-receiver";
import type { CallbackEvent } from "./base";
import { simulate } from "./simulate";
import { Webhook } from "./webhook";
import { webhookPolicy } from "./webhook-target";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const secret = "webhook-unit-secret-0001";
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/** Two epochs of one batch on a one-weight model, the Webhook called at each epoch end. */
async function fitWith(reply: string) {
  const receiver = await startReceiver(secret, () => ({ body: reply }));
  receivers.push(receiver);
  const events: CallbackEvent[] = [];
  const webhook = new Webhook(
    { url: receiver.url, secret, hooks: ["on_epoch_end"] },
    {
      onEvent: (e) => events.push(e),
      warn: () => {},
      webhook: {
        jobId: "job-1",
        attempt: 2,
        policy: webhookPolicy({
          WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
          WEBHOOK_ALLOWED_NETWORKS: "127.0.0.1/32",
          WEBHOOK_ALLOW_HTTP: true,
        }),
      },
    },
  );
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: "meanSquaredError" });
  const x = tf.ones([4, 1]);
  await model.fit(x, x, { epochs: 2, batchSize: 4, verbose: 0, callbacks: [webhook] });
  tf.dispose([x]);
  model.dispose();
  return { events, received: receiver.received };
}

describe("Webhook replies", () => {
  it("records a reply that is not a valid one as a failed call and steers nothing", async () => {
    const { events, received } = await fitWith('{"stop": true, "learning_rate": -1}');
    expect(received.map((r) => r.payload.attempt)).toEqual([2, 2]);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ callback: "Webhook", action: "webhook_failed", epoch: 0 });
    expect(events[0].details.error).toBe(
      'replied with what is not a reply (stop: unknown reply field \'stop\'; allowed: stop_training, learning_rate; learning_rate: must be > 0); a reply is {"stop_training": true} and/or {"learning_rate": <number > 0>}',
    );
  });

  it("records a reply that is not JSON", async () => {
    const { events } = await fitWith("OK");
    expect(events.map((e) => e.details.error)).toEqual([
      "replied with a body that is not JSON",
      "replied with a body that is not JSON",
    ]);
  });
});

describe("Webhook in a simulation", () => {
  it("is never called, and the result says so", async () => {
    const result = await simulate({
      callbacks: [{ type: "Webhook", url: "https://hooks.example.com/x", secret, hooks: ["on_epoch_end"] }],
      epochs: [{ logs: { loss: 1 } }, { logs: { loss: 0.5 } }],
    });
    expect(result.events).toEqual([]);
    expect(result.warnings).toEqual([
      "Webhook: no webhook settings in this context (simulations have none): the endpoint is not called",
    ]);
  });
});
