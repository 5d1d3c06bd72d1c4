import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { CSVLogger } from "./csv-logger";
import { renderTemplate } from "./python-format";
import { ReduceLROnPlateau } from "./reduce-lr-on-plateau";
import { MemorySink } from "./sink";
import { validateCallbackSpecs } from "./validate";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("validateCallbackSpecs", () => {
  it("returns every problem with its JSON path", () => {
    const issues = validateCallbackSpecs([
      { type: "EarlyStopping", patience: 2 },
      { type: "ReduceLROnPlateau", factor: 1.5, patience: -1, lr: 0.1 },
      { type: "ModelCheckpoint", save_freq: "batch", filepath: "ckpt-{epoch:02d" },
      { type: "Bogus" },
      { type: "EarlyStopping", monitor: "val_something" },
      { type: "CSVLogger" },
    ]);
    expect(issues.map((i) => i.path)).toEqual([
      "/1/factor",
      "/1/patience",
      "/1/lr",
      "/2/save_freq",
      "/2/filepath",
      "/3/type",
      "/4/monitor",
      "/5/filename",
    ]);
    expect(issues.find((i) => i.path === "/2/save_freq")?.message).toBe(
      'must be "epoch" or an integer >= 1 (got "batch")',
    );
    expect(issues.find((i) => i.path === "/4/monitor")?.message).toMatch(/mode: "min"/);
  });

  it("accepts mode=auto for acc, accuracy and error metrics", () => {
    const monitors = ["val_acc", "accuracy", "val_auc", "mse", "val_categorical_crossentropy", "loss"];
    expect(validateCallbackSpecs(monitors.map((monitor) => ({ type: "EarlyStopping", monitor })))).toEqual(
      [],
    );
  });
});

describe("constructors", () => {
  it("throw errors naming the option", () => {
    expect(() => new ReduceLROnPlateau({ factor: 1 })).toThrow(
      /ReduceLROnPlateau: invalid options: factor: must be < 1/,
    );
    expect(() => new ReduceLROnPlateau({ monitor: "custom" })).toThrow(/monitor: cannot tell/);
    expect(() => new ReduceLROnPlateau({ monitor: "custom", mode: "max" })).not.toThrow();
  });
});

describe("python format templates", () => {
  it("formats like Python's str.format", () => {
    const render = (t: string) =>
      renderTemplate(t, { ints: { epoch: 3 }, floats: { loss: 0.123456, big: 1234.5, tiny: 1e-5 } });
    expect(render("ckpt-{epoch:02d}-{loss:.2f}")).toBe("ckpt-03-0.12");
    expect(render("{epoch}-{loss}-{tiny}-{big:,.1f}-{loss:.3e}-{loss:g}-{epoch:>4}|{{x}}")).toBe(
      "3-0.123456-1e-05-1,234.5-1.235e-01-0.123456-   3|{x}",
    );
    expect(() => render("{missing}")).toThrow(/'\{missing\}' has no value/);
  });
});

describe("CSVLogger", () => {
  it("writes Keras's header, sorted columns, NA for missing val_ columns and Python floats", async () => {
    const sink = new MemorySink();
    const logger = new CSVLogger({ filename: "log.csv", separator: ";" }, { sink });
    logger.setModel(tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] }));
    await logger.onTrainBegin();
    await logger.onEpochEnd(0, { loss: 1, acc: 0.5 });
    await logger.onEpochEnd(1, { loss: 0.25, acc: 0.75, val_loss: 1e-5 });
    expect(sink.files.get("log.csv")).toBe(
      "epoch;acc;loss;val_acc;val_loss\r\n0;0.5;1.0;NA;NA\r\n1;0.75;0.25;NA;1e-05\r\n",
    );
    await logger.onTrainBegin();
    expect(sink.files.get("log.csv")).toBe("");
  });
});
