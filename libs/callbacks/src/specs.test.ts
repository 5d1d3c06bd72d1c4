import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { CSVLogger } from "./csv-logger";
import { renderTemplate, templateMaxLength } from "./python-format";
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
      'must be "epoch" or an integer >= 1 and <= 1000000000 (got "batch")',
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

  it("refuses a width or precision over 128 while parsing, before anything is rendered", () => {
    expect(() => renderTemplate("{epoch:0536870000d}", { ints: { epoch: 1 }, floats: {} })).toThrow(
      "width 536870000 in '{epoch:0536870000d}' is over 128: a checkpoint name has at most 128 characters",
    );
    expect(() => templateMaxLength("{loss:.129f}", [])).toThrow(
      "precision 129 in '{loss:.129f}' is over 128",
    );
    expect(templateMaxLength("{epoch:0128d}", ["epoch"])).toBe(128);
  });

  it("bounds every rendering by templateMaxLength, exactly for the magnitude-free formats", () => {
    const templates = [
      "{epoch}",
      "{epoch:04d}",
      "{epoch:+,d}",
      "{batch:.3f}",
      "{loss}",
      "{loss:e}",
      "{loss:.0e}",
      "{loss:.3E}",
      "{loss:g}",
      "{loss:.10g}",
      "{loss:.4}",
      "{loss:.2f}",
      "{loss:,.2f}",
      "{loss:.1%}",
      "{loss:>30}",
      "ckpt-{epoch:02d}-{loss:.4f}",
    ];
    const ints = [1, 999, 2_147_483_647];
    const floats = [
      0,
      -0,
      1e-5,
      -1.2345678901234568e-300,
      -0.00012345678901234567,
      -1.7976931348623157e308,
      -9999999999999998,
      -123.456,
      Number.NaN,
      Number.NEGATIVE_INFINITY,
    ];
    for (const template of templates) {
      const max = templateMaxLength(template, ["epoch", "batch"]);
      let longest = 0;
      for (const epoch of ints) {
        for (const loss of floats) {
          const rendered = renderTemplate(template, { ints: { epoch, batch: epoch }, floats: { loss } });
          // Fixed-point floats are counted up to 16 integer digits (|value| < 1e16).
          if (/[f%]\}/.test(template) && Math.abs(loss) >= 1e16) continue;
          expect(rendered.length, `${template} with ${loss}`).toBeLessThanOrEqual(max);
          longest = Math.max(longest, rendered.length);
        }
      }
      if (/^\{loss(:e|:\.3E|)?\}$/.test(template)) expect(longest, template).toBe(max);
    }
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
