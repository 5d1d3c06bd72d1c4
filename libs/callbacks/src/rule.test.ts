// biome-ignore-all lint/suspicious/noThenProperty: `then` is the Rule spec's documented field; its value is never a function, so these objects are not thenables.

import type { RuleConfig } from "@plateau/contract";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { CallbackEvent } from "./base";
import { getLearningRate } from "./learning-rate";
import { createOptimizer } from "./optimizers";
import { Rule } from "./rule";
import { simulate } from "./simulate";
import { MemorySink } from "./sink";
import { validateCallbackSpecs } from "./validate";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function tinyModel(): tf.LayersModel {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
  model.compile({ optimizer: createOptimizer("sgd", 0.01), loss: "meanSquaredError" });
  return model;
}

/** 8 samples in batches of 4; validation targets far from the training ones, so val_loss ≫ loss. */
async function fit(model: tf.LayersModel, callbacks: tf.Callback[], epochs: number, initialEpoch = 0) {
  const x = tf.tensor2d(
    Array.from({ length: 16 }, (_, i) => (i % 5) / 5),
    [8, 2],
  );
  const y = tf.zeros([8, 1]);
  const yVal = tf.fill([8, 1], 10);
  try {
    return await model.fit(x, y, {
      epochs,
      initialEpoch,
      batchSize: 4,
      validationData: [x, yVal],
      callbacks,
      verbose: 0,
    });
  } finally {
    tf.dispose([x, y, yVal]);
  }
}

const recorder = () => {
  const events: CallbackEvent[] = [];
  return { events, context: { onEvent: (e: CallbackEvent) => events.push(e) } };
};

describe("Rule in model.fit", () => {
  it("stops training with the issue's example rule", async () => {
    const { events, context } = recorder();
    const rule = new Rule(
      { on: "epoch_end", if: "val_loss > 1.5 * loss and epoch >= 3", then: "stop_training" },
      context,
    );
    const history = await fit(tinyModel(), [rule], 10);
    expect(history.epoch).toEqual([0, 1, 2, 3]);
    expect(events).toEqual([
      {
        callback: "Rule",
        epoch: 3,
        action: "stop_training",
        details: { on: "epoch_end", if: "val_loss > 1.5 * loss and epoch >= 3" },
      },
    ]);
  });

  it("runs on every hook tfjs's fit calls, as often as it calls it", async () => {
    const hooks = [
      "train_begin",
      "epoch_begin",
      "train_batch_begin",
      "train_batch_end",
      "epoch_end",
      "train_end",
    ];
    const { events, context } = recorder();
    const rules = hooks.map((on) => new Rule({ on, then: { log: on } } as RuleConfig, context));
    await fit(tinyModel(), rules, 2);
    const count = (hook: string) => events.filter((e) => e.details.message === hook).length;
    // 2 epochs of 2 batches.
    expect(hooks.map(count)).toEqual([1, 2, 4, 4, 2, 1]);
    const batchEnd = events.find(
      (e) => e.details.message === "train_batch_end" && e.epoch === 1 && e.batch === 1,
    );
    expect(batchEnd?.details.values).toEqual({
      loss: expect.any(Number),
      epoch: 1,
      batch: 1,
      lr: Math.fround(0.01),
      fired: 3,
    });
  });

  it("sets the learning rate from an expression and reports from/to", async () => {
    const { events, context } = recorder();
    const model = tinyModel();
    const rule = new Rule(
      { on: "epoch_end", if: "epoch >= 1", then: { set_learning_rate: "lr * 0.5" } },
      context,
    );
    await fit(model, [rule], 3);
    expect(getLearningRate(model)).toBe(Math.fround(Math.fround(0.01 * 0.5) * 0.5));
    expect(events.map((e) => [e.epoch, e.action, e.details.from, e.details.to])).toEqual([
      [1, "set_lr", Math.fround(0.01), Math.fround(0.005)],
      [2, "set_lr", Math.fround(0.005), Math.fround(0.0025)],
    ]);
  });

  it("fails the fit when the condition names a metric the logs do not have", async () => {
    const rule = new Rule({ on: "train_batch_end", if: "val_loss > 1", then: "stop_training" });
    await expect(fit(tinyModel(), [rule], 1)).rejects.toThrow(
      "Rule on train_batch_end: \"val_loss > 1\": unknown variable 'val_loss'; available: batch, epoch, fired, loss, lr",
    );
  });

  it("continues identically after export → restore: `fired` carries over", async () => {
    const options: RuleConfig = { on: "epoch_end", if: "epoch >= 2 and fired < 2", then: "log" };
    const whole = recorder();
    await fit(tinyModel(), [new Rule(options, whole.context)], 6);

    const split = recorder();
    const before = new Rule(options, split.context);
    await fit(tinyModel(), [before], 3);
    const after = new Rule(options, split.context);
    after.restoreState(JSON.parse(JSON.stringify(before.exportState())));
    await fit(tinyModel(), [after], 6, 3);

    expect(whole.events.map((e) => e.epoch)).toEqual([2, 3]);
    expect(split.events.map((e) => [e.epoch, e.details.values])).toEqual(
      whole.events.map((e) => [
        e.epoch,
        { ...(e.details.values as object), loss: expect.any(Number), val_loss: expect.any(Number) },
      ]),
    );
  });
});

describe("Rule through simulate", () => {
  const curve = (values: [number, number][]) =>
    values.map(([loss, val_loss]) => ({ logs: { loss, val_loss } }));

  it("stops at the first epoch ≥ 3 where val_loss > 1.5 * loss", async () => {
    const result = await simulate({
      callbacks: [{ type: "Rule", if: "val_loss > 1.5 * loss and epoch >= 3", then: "stop_training" }],
      epochs: curve([
        [1, 2],
        [0.9, 1],
        [0.8, 1],
        [0.7, 1],
        [0.6, 1],
        [0.5, 1],
      ]),
    });
    expect(result.stopped_epoch).toBe(4);
  });

  it("checkpoints through the sink like ModelCheckpoint, events attributed to the Rule", async () => {
    const result = await simulate({
      callbacks: [
        {
          type: "Rule",
          if: "epoch % 2 == 1",
          then: ["checkpoint", { log: "saved" }],
          filepath: "rule-{epoch:02d}-{val_loss:.2f}",
        },
      ],
      epochs: curve([
        [1, 2],
        [0.9, 1.5],
        [0.8, 1],
        [0.7, 1.25],
      ]),
    });
    expect(result.checkpoints).toEqual([
      { epoch: 1, batch: null, filepath: "rule-02-1.50" },
      { epoch: 3, batch: null, filepath: "rule-04-1.25" },
    ]);
    expect(result.events.map((e) => [e.callback, e.epoch, e.action])).toEqual([
      ["Rule", 1, "checkpoint"],
      ["Rule", 1, "log"],
      ["Rule", 3, "checkpoint"],
      ["Rule", 3, "log"],
    ]);
  });

  it("sees acc and accuracy as the same metric", async () => {
    const result = await simulate({
      callbacks: [{ type: "Rule", if: "accuracy > 0.9 and val_acc > 0.8", then: "stop_training" }],
      epochs: [
        { logs: { loss: 1, acc: 0.5, val_accuracy: 0.5 } },
        { logs: { loss: 1, acc: 0.95, val_accuracy: 0.85 } },
      ],
    });
    expect(result.stopped_epoch).toBe(1);
  });

  it("saves with the default filepath rule-{epoch:04d}", async () => {
    const result = await simulate({
      callbacks: [{ type: "Rule", then: "checkpoint" }],
      epochs: curve([[1, 1]]),
    });
    expect(result.checkpoints.map((c) => c.filepath)).toEqual(["rule-0001"]);
  });
});

describe("Rule spec validation", () => {
  const check = (rule: Record<string, unknown>) =>
    validateCallbackSpecs([{ type: "TerminateOnNaN" }, { type: "Rule", ...rule }]);

  it("accepts a valid rule", () => {
    expect(
      check({
        on: "train_batch_end",
        if: "loss > 10 * batch",
        then: ["checkpoint", { set_learning_rate: "lr / 10" }],
      }),
    ).toEqual([]);
  });

  it("explains that tfjs never calls test_* and predict_* hooks", () => {
    expect(check({ on: "test_end", then: "log" })).toEqual([
      {
        path: "/1/on",
        message:
          "'test_end' is a Keras hook that tfjs never calls (its evaluate/predict take no callbacks); use one of: " +
          "train_begin, epoch_begin, epoch_end, train_batch_begin, train_batch_end, train_end",
      },
    ]);
    expect(check({ on: "epoch_ends", then: "log" })[0].message).toMatch(/^unknown hook 'epoch_ends'/);
  });

  it("reports expression errors at their paths", () => {
    expect(check({ if: "val_loss >", then: ["log", { set_learning_rate: "lr * gamma(" }] })).toEqual([
      { path: "/1/if", message: expect.stringMatching(/^syntax error: /) },
      { path: "/1/then/1/set_learning_rate", message: expect.stringMatching(/^syntax error: /) },
    ]);
    expect(check({ on: "epoch_begin", if: "val_loss > 1", then: "log" })).toEqual([
      { path: "/1/if", message: "unknown variable 'val_loss'; allowed: epoch, lr, fired" },
    ]);
    expect(check({ on: "epoch_end", if: "batch > 1", then: "log" })).toEqual([
      { path: "/1/if", message: "'batch' is not defined in 'epoch_end'; defined: epoch, lr, fired" },
    ]);
    expect(check({ if: 'evaluate("1")', then: "log" })[0].message).toMatch(
      /'evaluate' is not an allowed function/,
    );
  });

  it("reports unknown actions, useless stops and bad checkpoint paths", () => {
    expect(check({ then: "explode" })).toEqual([
      {
        path: "/1/then",
        message:
          'unknown action "explode"; actions are "stop_training", "checkpoint", "log", {"log": "<message>"} or {"set_learning_rate": "<expression>"}',
      },
    ]);
    expect(check({ on: "train_begin", then: "stop_training" })).toEqual([
      { path: "/1/then", message: "stop_training has no effect in 'train_begin'" },
    ]);
    expect(check({ then: "checkpoint", filepath: "../escape" })).toEqual([
      { path: "/1/filepath", message: expect.any(String) },
    ]);
    expect(check({ then: "log", colour: "red" })).toEqual([
      { path: "/1/colour", message: expect.stringContaining("unknown option 'colour'") },
    ]);
    expect(check({})).toEqual([{ path: "/1/then", message: "is required" }]);
  });

  it("needs a sink only when it checkpoints", () => {
    expect(() => new Rule({ then: "log" })).not.toThrow();
    expect(() => new Rule({ then: "checkpoint" })).toThrow(/needs an artifact sink/);
    expect(() => new Rule({ then: "checkpoint" }, { sink: new MemorySink() })).not.toThrow();
  });
});
