import * as tf from "@tensorflow/tfjs";
import fc from "fast-check";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "../../../test/webhook-receiver";
import type { CallbackEvent } from "./base";
import { simulate } from "./simulate";
import { validateCallbackSpecs } from "./validate";
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

describe("Webhook options", () => {
  it("name Keras's older batch hook names' replacements", () => {
    const spec = {
      type: "Webhook",
      url: "https://h.example.com/",
      secret,
      hooks: ["on_batch_end", "on_batch_begin"],
    };
    expect(validateCallbackSpecs([spec])).toEqual([
      { path: "/0/hooks/0", message: "on_batch_end is Keras's older name for on_train_batch_end: use that" },
      {
        path: "/0/hooks/1",
        message: "on_batch_begin is Keras's older name for on_train_batch_begin: use that",
      },
    ]);
  });

  it("are either refused with paths or build a Webhook, whatever the values", () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.oneof(fc.string(), fc.constantFrom("on_epoch_end", "on_train_batch_end", "on_test_end"))),
      fc.webUrl(),
      fc.constantFrom("https://[::1]/x", "http://user@h/", "javascript:alert(1)", "https://h:99999/"),
    );
    const options = fc.record(
      {
        url: fc.oneof(fc.webUrl(), value),
        secret: fc.oneof(fc.string({ minLength: 16 }), value),
        hooks: value,
        every_n_batches: value,
        timeout_ms: value,
        max_retries: value,
        on_failure: fc.oneof(fc.constantFrom("warn", "fail"), value),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(options, (given) => {
        const issues = validateCallbackSpecs([{ type: "Webhook", ...given }]);
        for (const issue of issues) expect(issue.path).toMatch(/^\/0(\/|$)/);
        if (issues.length === 0) expect(new Webhook(given as never).type).toBe("Webhook");
        else expect(() => new Webhook(given as never)).toThrow(/^Webhook: invalid options: /);
      }),
      { numRuns: 300 },
    );
  });
});
