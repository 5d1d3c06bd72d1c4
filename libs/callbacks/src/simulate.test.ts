import type { SimulationInput } from "@plateau/contract";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { SIMULATION_LIMITS, simulate } from "./simulate";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const curve = (key: string, values: number[]): SimulationInput["epochs"] =>
  values.map((value) => ({ logs: { [key]: value } }));

describe("ReduceLROnPlateau vectors (keras reduce_lr_on_plateau_test.py)", () => {
  // Keras's tests use min_delta=100 or 10 so that val_loss never counts as an improvement.
  const flat = (n: number) => curve("val_loss", Array(n).fill(0.5));
  const adam = { name: "adam" as const, learning_rate: 0.1 };

  it("reduces 0.1 -> 0.01 after two epochs with patience 1", async () => {
    const result = await simulate({
      callbacks: [{ type: "ReduceLROnPlateau", patience: 1, factor: 0.1, min_delta: 100 }],
      optimizer: adam,
      epochs: flat(2),
    });
    expect(result.final_learning_rate).toBeCloseTo(0.01, 7);
    expect(result.events.map((e) => [e.action, e.epoch])).toEqual([["reduce_lr", 1]]);
    expect(result.epochs.map((e) => e.learning_rate)).toEqual([Math.fround(0.1), Math.fround(0.1)]);
  });

  it("honours min_lr 0.005 over four epochs", async () => {
    const result = await simulate({
      callbacks: [{ type: "ReduceLROnPlateau", patience: 1, factor: 0.1, min_delta: 10, min_lr: 0.005 }],
      optimizer: adam,
      epochs: flat(4),
    });
    expect(result.final_learning_rate).toBe(Math.fround(0.005));
    expect(result.events.filter((e) => e.action === "reduce_lr")).toHaveLength(2);
  });

  it("with cooldown 2 reduces at epochs 1 and 3, ending at 0.001", async () => {
    const result = await simulate({
      callbacks: [{ type: "ReduceLROnPlateau", patience: 1, factor: 0.1, min_delta: 100, cooldown: 2 }],
      optimizer: adam,
      epochs: flat(4),
    });
    expect(result.final_learning_rate).toBeCloseTo(0.001, 7);
    expect(result.events.map((e) => e.epoch)).toEqual([1, 3]);
    expect(result.epochs.map((e) => e.learning_rate)).toEqual([0.1, 0.1, 0.01, 0.01].map(Math.fround));
  });
});

describe("EarlyStopping vectors (keras early_stopping_test.py)", () => {
  const losses = [10, 9, 8, 9, 8.9, 8.8, 8.7, 8.6, 8.5];
  for (const [patience, stopped] of [
    [0, 3],
    [1, 3],
    [2, 4],
    [3, 5],
  ]) {
    it(`patience ${patience} stops at epoch ${stopped}`, async () => {
      const result = await simulate({
        callbacks: [{ type: "EarlyStopping", monitor: "loss", patience }],
        epochs: curve("loss", losses),
      });
      expect(result.stopped_epoch).toBe(stopped);
      expect(result.events).toContainEqual(
        expect.objectContaining({
          action: "early_stop",
          details: expect.objectContaining({ stopped_epoch: stopped, best_epoch: 2 }),
        }),
      );
    });
  }

  it("restores the weights of the best epoch", async () => {
    const result = await simulate({
      callbacks: [{ type: "EarlyStopping", patience: 2, restore_best_weights: true }],
      epochs: curve("val_loss", [0.2, 0.15, 0.1, 0.11, 0.12]),
    });
    expect(result.stopped_epoch).toBe(4);
    expect(result.restored_weights_from_epoch).toBe(2);
    expect(result.events.at(-1)).toMatchObject({ action: "restore_best_weights", details: { epoch: 2 } });
  });

  it("with a baseline nothing beats, runs patience epochs and restores the best of them", async () => {
    const result = await simulate({
      callbacks: [{ type: "EarlyStopping", patience: 5, baseline: 0.5, restore_best_weights: true }],
      epochs: curve("val_loss", [0.9, 0.8, 0.7, 0.71, 0.72, 0.73]),
    });
    expect(result.epochs).toHaveLength(5);
    expect(result.stopped_epoch).toBe(4);
    expect(result.restored_weights_from_epoch).toBe(2);
  });

  it("restores best weights when another callback stops training", async () => {
    const epochs = curve("val_loss", [0.9, 0.8, 0.7, 0.71, 0.72, 0.73]);
    epochs[3].batches = [{ loss: Number.NaN }];
    const result = await simulate({
      callbacks: [
        { type: "EarlyStopping", patience: 5, baseline: 0.5, restore_best_weights: true },
        { type: "TerminateOnNaN" },
      ],
      epochs,
    });
    expect(result.epochs).toHaveLength(4);
    expect(result.restored_weights_from_epoch).toBe(2);
  });

  it("ignores epochs before start_from_epoch", async () => {
    const result = await simulate({
      callbacks: [{ type: "EarlyStopping", monitor: "loss", patience: 0, start_from_epoch: 3 }],
      epochs: curve("loss", [5, 6, 7, 8, 9, 10]),
    });
    expect(result.stopped_epoch).toBe(4);
  });
});

describe("ModelCheckpoint vectors (keras model_checkpoint_test.py)", () => {
  const batches = (n: number) => Array.from({ length: n }, () => ({ loss: 1 }));

  it("save_freq 15 with 5 batches per epoch saves at the end of epochs 3, 6 and 9", async () => {
    const result = await simulate({
      callbacks: [
        { type: "ModelCheckpoint", filepath: "checkpoint.epoch{epoch:02d}", save_freq: 15, monitor: "loss" },
      ],
      epochs: Array.from({ length: 10 }, () => ({ logs: { loss: 1 }, batches: batches(5) })),
    });
    expect(result.checkpoints.map((c) => c.filepath)).toEqual([
      "checkpoint.epoch03",
      "checkpoint.epoch06",
      "checkpoint.epoch09",
    ]);
    expect(result.checkpoints.map((c) => [c.epoch, c.batch])).toEqual([
      [2, 4],
      [5, 4],
      [8, 4],
    ]);
  });

  it("save_freq 1 with 2 batches per epoch saves at every (epoch, batch)", async () => {
    const result = await simulate({
      callbacks: [
        {
          type: "ModelCheckpoint",
          filepath: "checkpoint.epoch{epoch:02d}batch{batch:02d}",
          save_freq: 1,
          monitor: "loss",
        },
      ],
      epochs: Array.from({ length: 2 }, () => ({ logs: { loss: 1 }, batches: batches(2) })),
    });
    expect(result.checkpoints.map((c) => c.filepath)).toEqual([
      "checkpoint.epoch01batch01",
      "checkpoint.epoch01batch02",
      "checkpoint.epoch02batch01",
      "checkpoint.epoch02batch02",
    ]);
  });

  it("initial_value_threshold: val_acc max above -0.01 saves, val_loss min below 0 does not", async () => {
    const saved = await simulate({
      callbacks: [
        {
          type: "ModelCheckpoint",
          monitor: "val_acc",
          mode: "max",
          save_best_only: true,
          initial_value_threshold: -0.01,
        },
      ],
      epochs: [{ logs: { loss: 1, val_acc: 0 } }],
    });
    expect(saved.checkpoints.map((c) => c.filepath)).toEqual(["epoch-0001"]);
    const skipped = await simulate({
      callbacks: [
        {
          type: "ModelCheckpoint",
          monitor: "val_loss",
          mode: "min",
          save_best_only: true,
          initial_value_threshold: 0,
        },
      ],
      epochs: [{ logs: { loss: 1, val_loss: 0.5 } }],
    });
    expect(skipped.checkpoints).toEqual([]);
  });

  it("save_best_only keeps only improvements, finds val_accuracy under tfjs's val_acc, and formats the filepath", async () => {
    const result = await simulate({
      callbacks: [
        {
          type: "ModelCheckpoint",
          filepath: "best-{epoch:02d}-{val_accuracy:.2f}",
          monitor: "val_accuracy",
          save_best_only: true,
        },
      ],
      epochs: [0.5, 0.7, 0.6, 0.9].map((v) => ({ logs: { loss: 1, val_acc: v } })),
    });
    expect(result.checkpoints.map((c) => c.filepath)).toEqual([
      "best-01-0.50",
      "best-02-0.70",
      "best-04-0.90",
    ]);
    expect(result.events.every((e) => e.details.is_best === true)).toBe(true);
  });

  it("with save_best_only and a missing monitor, warns and saves", async () => {
    const result = await simulate({
      callbacks: [{ type: "ModelCheckpoint", save_best_only: true }],
      epochs: [{ logs: { loss: 1 } }],
    });
    expect(result.checkpoints).toHaveLength(1);
    expect(result.warnings[0]).toContain("val_loss");
  });
});

describe("TerminateOnNaN", () => {
  it("stops within the batch whose loss is first non-finite", async () => {
    const result = await simulate({
      callbacks: [{ type: "TerminateOnNaN" }],
      epochs: [
        { logs: { loss: 1 }, batches: [{ loss: 1 }, { loss: 1 }] },
        { logs: { loss: 1 }, batches: [{ loss: 1 }, { loss: Number.POSITIVE_INFINITY }, { loss: 1 }] },
        { logs: { loss: 1 } },
      ],
    });
    expect(result.stopped_epoch).toBe(1);
    expect(result.events).toEqual([
      {
        callback: "TerminateOnNaN",
        epoch: 1,
        batch: 1,
        action: "nan",
        details: { batch: 1, value: "Infinity" },
      },
    ]);
  });
});

describe("simulate rejects bad specs", () => {
  it("lists every problem with its path", async () => {
    await expect(
      simulate({
        callbacks: [{ type: "ReduceLROnPlateau", factor: 2 }, { type: "Nope" }],
        epochs: [],
      } as never),
    ).rejects.toThrow(/\/0\/factor: must be < 1.*\/1\/type: unknown callback type 'Nope'/);
  });
});

describe("bounded work", () => {
  it("replays at most 10,000 batches and records at most 10,000 events, saying so", async () => {
    const epochs = Array.from({ length: 101 }, () => ({
      logs: { loss: 1 },
      batches: Array.from({ length: 100 }, () => ({ loss: 1 })),
    }));
    // biome-ignore lint/suspicious/noThenProperty: a Rule's `then` is data, never a function.
    const logTwice = { type: "Rule", on: "train_batch_end", then: ["log", "log"] };
    const result = await simulate({ callbacks: [logTwice], epochs } as SimulationInput);
    expect(SIMULATION_LIMITS).toEqual({ batches: 10_000, events: 10_000 });
    expect(result.epochs).toHaveLength(100);
    expect(result.events).toHaveLength(10_000);
    expect(result.warnings).toEqual([
      "stopped before epoch 100: a simulation replays at most 10000 batches",
      "10000 more events were not recorded: a simulation reports at most 10000",
    ]);
  });
});
