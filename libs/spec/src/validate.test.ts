import { countModelParams, selectBackend } from "@plateau/training";
import { beforeAll, describe, expect, it } from "vitest";
import { exampleJob } from "./example";
import { type CountParams, validateJobSpec } from "./validate";

const limits = {
  MAX_EPOCHS: 100,
  MAX_PARAMS: 10_000,
  MAX_DATA_CELLS: 100_000,
  S3_BUCKET: "plateau",
  DATA_URI_PREFIXES: "uploads/",
};
const TENANT = "0b7f6c1e-2f57-4c43-9a55-0d1f0e5e8a11";
let countParams: CountParams;
beforeAll(async () => {
  const { tf } = await selectBackend("cpu");
  countParams = (model) => countModelParams(tf, model);
});

/** The issue's example job without its TerminateOnNaN, which validation adds. */
function example(): Record<string, unknown> {
  const job = exampleJob();
  return { ...job, callbacks: job.callbacks.filter((callback) => callback.type !== "TerminateOnNaN") };
}

describe("validateJobSpec", () => {
  it("accepts the example and returns the effective spec with Keras defaults and TerminateOnNaN", async () => {
    const result = await validateJobSpec(example(), limits, countParams, TENANT);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.params).toBe(4 * 64 + 64 + 64 * 3 + 3);
    expect(result.spec.callbacks?.map((c) => c.type)).toEqual([
      "ReduceLROnPlateau",
      "EarlyStopping",
      "ModelCheckpoint",
      "TerminateOnNaN",
    ]);
    expect(result.spec.callbacks?.[0]).toMatchObject({
      factor: 0.2,
      cooldown: 0,
      min_delta: 1e-4,
      mode: "auto",
    });
    expect(result.spec.callbacks?.[2]).toMatchObject({ filepath: "epoch-{epoch:04d}", save_freq: "epoch" });
  });

  it("keeps a job's seed and chooses one for a job without, so every attempt trains from the same draws", async () => {
    const seeded = await validateJobSpec({ ...example(), seed: 42 }, limits, countParams, TENANT);
    if (!seeded.ok) throw new Error(JSON.stringify(seeded.issues));
    expect(seeded.spec.seed).toBe(42);
    const chosen = await Promise.all(
      [1, 2].map(() => validateJobSpec(example(), limits, countParams, TENANT)),
    );
    const seeds = chosen.map((result) => (result.ok ? result.spec.seed : undefined));
    for (const seed of seeds) expect(Number.isInteger(seed) && seed! >= 0 && seed! < 2 ** 32).toBe(true);
    const refused = await validateJobSpec({ ...example(), seed: -1 }, limits, countParams, TENANT);
    expect(refused.ok ? [] : refused.issues.map((issue) => issue.path)).toEqual(["/seed"]);
  });

  it("keeps a TerminateOnNaN the job lists where it is, without adding another", async () => {
    const result = await validateJobSpec(exampleJob(), limits, countParams, TENANT);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.spec.callbacks?.map((c) => c.type)).toEqual([
      "ReduceLROnPlateau",
      "EarlyStopping",
      "TerminateOnNaN",
      "ModelCheckpoint",
    ]);
  });

  it("returns every problem at once, each with its JSON path", async () => {
    const spec = example();
    spec.extra = 1;
    (spec.fit as Record<string, unknown>).epochs = "50";
    spec.callbacks = [{ type: "ReduceLROnPlateau", factor: 1.5, paitence: 3 }, { type: "MyCallback" }];
    const result = await validateJobSpec(spec, limits, countParams, TENANT);
    expect(result.ok).toBe(false);
    const paths = !result.ok ? result.issues.map((i) => i.path).sort() : [];
    expect(paths).toEqual([
      "/callbacks/0/factor",
      "/callbacks/0/paitence",
      "/callbacks/1/type",
      "/extra",
      "/fit/epochs",
    ]);
  });

  it("rejects a monitor the job never logs, saying how to get it", async () => {
    const spec = example();
    spec.fit = { epochs: 5 };
    const result = await validateJobSpec(spec, limits, countParams, TENANT);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path)).toEqual(["/callbacks/0/monitor", "/callbacks/2/monitor"]);
    expect(result.issues[0].message).toContain("add fit.validation_split or data.validation");
  });

  it("accepts accuracy where tfjs logs acc", async () => {
    const spec = example();
    (spec.callbacks as Record<string, unknown>[])[2].monitor = "val_accuracy";
    expect((await validateJobSpec(spec, limits, countParams, TENANT)).ok).toBe(true);
  });

  it("enforces the service's limits", async () => {
    const spec = example();
    (spec.fit as Record<string, unknown>).epochs = 101;
    const tooLong = await validateJobSpec(spec, limits, countParams, TENANT);
    expect(!tooLong.ok && tooLong.issues).toEqual([
      { path: "/fit/epochs", message: "must be <= 100 (this service's MAX_EPOCHS)" },
    ]);
    const big = await validateJobSpec(example(), { ...limits, MAX_PARAMS: 100 }, countParams, TENANT);
    expect(!big.ok && big.issues[0]).toMatchObject({
      path: "/model",
      message: expect.stringContaining("515 parameters"),
    });
  });

  it("names an unsupported layer by its path", async () => {
    const spec = example();
    (spec.model as { layers: unknown[] }).layers.push({ class_name: "Lambda", config: {} });
    const result = await validateJobSpec(spec, limits, countParams, TENANT);
    expect(!result.ok && result.issues[0].path).toBe("/model/layers/2/class_name");
  });
});

describe("validateJobSpec: what drives memory or CPU is bounded at submission", () => {
  /** The example job with these callbacks (and data, fit) instead of its own; returns the issues. */
  async function issuesFor(change: Record<string, unknown>, overrides: Partial<typeof limits> = {}) {
    const spec = { ...example(), ...change };
    const result = await validateJobSpec(spec, { ...limits, ...overrides }, countParams, TENANT);
    return result.ok ? [] : result.issues;
  }
  const nested = (depth: number, inner: string) => `${"-(".repeat(depth)}${inner}${")".repeat(depth)}`;
  const rule = (then: unknown, options: Record<string, unknown> = {}) => ({ type: "Rule", ...options, then });

  it("refuses a format width or precision no checkpoint name can hold, at the filepath, without rendering", async () => {
    const started = Date.now();
    const issues = await issuesFor({
      callbacks: [
        { type: "ModelCheckpoint", monitor: "val_loss", filepath: "ckpt-{epoch:0536870000d}" },
        { type: "ModelCheckpoint", monitor: "val_loss", filepath: "ckpt-{val_loss:.200f}" },
        rule("checkpoint", { filepath: "rule-{epoch:999}" }),
      ],
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(issues).toEqual([
      {
        path: "/callbacks/0/filepath",
        message:
          "width 536870000 in '{epoch:0536870000d}' is over 128: a checkpoint name has at most 128 characters",
      },
      {
        path: "/callbacks/1/filepath",
        message:
          "precision 200 in '{val_loss:.200f}' is over 128: a checkpoint name has at most 128 characters",
      },
      {
        path: "/callbacks/2/filepath",
        message: "width 999 in '{epoch:999}' is over 128: a checkpoint name has at most 128 characters",
      },
    ]);
  });

  it("refuses a template whose longest rendering exceeds the 128-character name limit, and keeps Keras's usual ones", async () => {
    const fields = "-{val_loss:.8f}-{val_acc:.8f}-{loss:.8f}-{acc:.8f}-{learning_rate:.8f}";
    const issues = await issuesFor({
      callbacks: [
        { type: "ModelCheckpoint", monitor: "val_loss", filepath: `weights.{epoch:02d}${fields}` },
        { type: "ModelCheckpoint", monitor: "val_loss", filepath: "weights.{epoch:02d}-{val_loss:.2f}.hdf5" },
        { type: "ModelCheckpoint", monitor: "val_loss", filepath: "{epoch:03d}-{val_loss:e}-{val_acc}" },
      ],
    });
    expect(issues).toEqual([
      {
        path: "/callbacks/0/filepath",
        message: expect.stringMatching(
          /^can render to 153 characters .*; a checkpoint name has at most 128: shorten the text/,
        ),
      },
    ]);
  });

  it("refuses formats the renderer would fail on during training", async () => {
    const issues = await issuesFor({
      callbacks: [
        { type: "ModelCheckpoint", monitor: "val_loss", filepath: "ckpt-{val_loss:d}" },
        { type: "ModelCheckpoint", monitor: "val_loss", filepath: "ckpt-{epoch:x}" },
      ],
    });
    expect(issues.map((issue) => [issue.path, issue.message.split(";")[0]])).toEqual([
      [
        "/callbacks/0/filepath",
        "format code 'd' needs an integer, but 'val_loss' is a float (only epoch and batch are integers)",
      ],
      ["/callbacks/1/filepath", "format code 'x' is not supported for field 'epoch'"],
    ]);
  });

  it("refuses deeply nested or oversized expressions with a precise message, never a stack overflow", async () => {
    const issues = await issuesFor({
      callbacks: [
        { type: "LearningRateScheduler", schedule: `${"(".repeat(499)}lr${")".repeat(499)}` },
        { type: "LearningRateScheduler", schedule: nested(300, "lr") },
        rule("stop_training", { if: `${"-".repeat(999)}1` }),
        rule([{ set_learning_rate: Array(300).fill("lr").join("+") }]),
        rule([{ set_learning_rate: `max(${Array(320).fill("lr").join(",")})` }]),
        rule("log", { on: "epoch_begin", if: "sum(1:1e9) > 0" }),
        { type: "LearningRateScheduler", schedule: "1:1e9" },
      ],
    });
    expect(issues).toEqual([
      {
        path: "/callbacks/0/schedule",
        message: "parentheses are nested 499 deep; at most 50 levels are allowed",
      },
      {
        path: "/callbacks/1/schedule",
        message: "parentheses are nested 300 deep; at most 50 levels are allowed",
      },
      {
        path: "/callbacks/2/if",
        message: expect.stringMatching(/^expression is nested more than 50 levels deep/),
      },
      {
        path: "/callbacks/3/then/0/set_learning_rate",
        message: expect.stringMatching(/^expression is nested more than 50 levels deep/),
      },
      {
        path: "/callbacks/4/then/0/set_learning_rate",
        message: expect.stringMatching(/^expression has more than 300 terms/),
      },
      { path: "/callbacks/5/if", message: expect.stringContaining("'sum' is not an allowed function") },
      { path: "/callbacks/6/schedule", message: "ranges are not allowed" },
    ]);
  });

  it("accepts an expression just within the limits", async () => {
    const issues = await issuesFor({
      callbacks: [{ type: "LearningRateScheduler", schedule: nested(24, "lr") }],
    });
    expect(issues).toEqual([]);
  });

  it("refuses synthetic data larger than MAX_DATA_CELLS, saying how many samples fit", async () => {
    const issues = await issuesFor(
      { data: { source: "builtin", name: "regression", samples: 50_000_000, features: 1000 } },
      { MAX_DATA_CELLS: 5_000_000 },
    );
    expect(issues).toEqual([
      {
        path: "/data/samples",
        message:
          "has 50,000,000 rows × 1,001 columns (1,000 features + 1 label) = 50,050,000,000 cells; this service accepts at most 5,000,000 cells of data per job, training and validation together (MAX_DATA_CELLS): use at most 4,995 samples or fewer features",
      },
    ]);
    // A model that takes xor's 2 features, so that only the size is in question.
    const xorModel = {
      layers: [
        { class_name: "Dense", config: { units: 8, activation: "relu", input_shape: [2] } },
        { class_name: "Dense", config: { units: 2, activation: "softmax" } },
      ],
    };
    const fits = await issuesFor(
      {
        model: xorModel,
        data: { source: "builtin", name: "xor", samples: 1000 },
        fit: { epochs: 2, validation_split: 0.2 },
      },
      { MAX_DATA_CELLS: 3000 },
    );
    expect(fits).toEqual([]);
  });

  it("counts training and validation data together", async () => {
    const data = {
      source: "builtin",
      name: "xor",
      samples: 600,
      validation: { source: "builtin", name: "xor", samples: 500, seed: 1 },
    };
    const issues = await issuesFor({ data, fit: { epochs: 2 } }, { MAX_DATA_CELLS: 3000 });
    expect(issues).toEqual([
      {
        path: "/data/validation",
        message: expect.stringMatching(
          /^training and validation data together have 3,300 cells; .*MAX_DATA_CELLS/,
        ),
      },
    ]);
  });

  it("refuses inline rows of different widths at the row's path, and inline data over the limit", async () => {
    const ragged = await issuesFor({
      model: { layers: [{ class_name: "Dense", config: { units: 1, input_shape: [2] } }] },
      compile: { optimizer: "sgd", loss: "mse" },
      data: { source: "inline", x: [[1, 2], [3, 4], [5]], y: [[1], [2, 3], [4]] },
      fit: { epochs: 1 },
      callbacks: [],
    });
    expect(ragged).toEqual([
      { path: "/data/x/2", message: "is a list of 1, but sample 0 is a list of 2 (shape [3,2])" },
      { path: "/data/y/1", message: "is a list of 2, but sample 0 is a list of 1 (shape [3,1])" },
    ]);
    const rows = Array.from({ length: 40 }, (_, i) => [i, i]);
    const big = await issuesFor(
      {
        model: { layers: [{ class_name: "Dense", config: { units: 1, input_shape: [2] } }] },
        compile: { optimizer: "sgd", loss: "mse" },
        data: { source: "inline", x: rows, y: rows.map(([a]) => a) },
        fit: { epochs: 1 },
        callbacks: [],
      },
      { MAX_DATA_CELLS: 100 },
    );
    expect(big).toEqual([
      {
        path: "/data/x",
        message: expect.stringMatching(/^has 40 rows × 3 columns .* = 120 cells; .*\(MAX_DATA_CELLS\)/),
      },
    ]);
  });

  it("bounds fit.batch_size and the callback options that count epochs, batches and actions", async () => {
    const issues = await issuesFor({
      fit: { epochs: 5, batch_size: 1_000_000, validation_split: 0.2 },
      callbacks: [
        { type: "ReduceLROnPlateau", patience: 10_000_000, cooldown: 10_000_000 },
        { type: "EarlyStopping", start_from_epoch: 10_000_000 },
        { type: "ModelCheckpoint", save_freq: 10_000_000_000 },
        {
          type: "LearningRateScheduler",
          schedule: {
            name: "piecewise_constant",
            boundaries: Array.from({ length: 200 }, (_, i) => i),
            values: Array(201).fill(0.1),
          },
        },
        rule(Array(17).fill("log")),
        rule([{ log: "x".repeat(501) }]),
      ],
    });
    expect(issues.map((issue) => issue.path)).toEqual([
      "/fit/batch_size",
      "/callbacks/0/patience",
      "/callbacks/0/cooldown",
      "/callbacks/1/start_from_epoch",
      "/callbacks/2/save_freq",
      "/callbacks/3/schedule/boundaries",
      "/callbacks/3/schedule/values",
      "/callbacks/4/then",
      "/callbacks/5/then/0",
    ]);
    expect(issues.at(-1)?.message).toBe("the log message has 501 characters; at most 500 are allowed");
  });
});

describe("validateJobSpec: what Keras users bring to fit", () => {
  async function validate(change: (spec: Record<string, unknown>) => void) {
    const spec = example();
    change(spec);
    return validateJobSpec(spec, limits, countParams, TENANT);
  }
  async function issuesFor(change: (spec: Record<string, unknown>) => void) {
    const result = await validate(change);
    return result.ok ? [] : result.issues;
  }
  const fit = (spec: Record<string, unknown>) => spec.fit as Record<string, unknown>;
  const layers = (spec: Record<string, unknown>) =>
    (spec.model as { layers: { class_name: string; config: Record<string, unknown> }[] }).layers;
  const irisValidation = { source: "builtin", name: "iris", seed: 7 };
  /** Inline data with iris's 4 features and these labels, one row each. */
  const inlineData = (y: number[]) => ({ source: "inline", x: y.map((_, i) => [i, 1, 2, 3]), y });

  it("runs fit.validation_data as data.validation and keeps fit.verbose in the effective spec", async () => {
    const result = await validate((spec) => {
      spec.fit = { epochs: 5, validation_data: irisValidation, verbose: "auto" };
    });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.spec.data.validation).toEqual(irisValidation);
    expect(result.spec.fit).not.toHaveProperty("validation_data");
    expect(result.spec.fit).toMatchObject({ epochs: 5, verbose: "auto", batch_size: 32 });
  });

  it("logs val_* with fit.validation_data, so a val_loss monitor is accepted", async () => {
    const result = await validate((spec) => {
      spec.fit = { epochs: 5, validation_data: { source: "inline", x: [[1, 2, 3, 4]], y: [0] } };
    });
    expect(result.ok).toBe(true);
  });

  it("accepts Keras's verbose values and names any other", async () => {
    for (const verbose of [0, 1, 2, "auto"]) {
      expect(await issuesFor((spec) => Object.assign(fit(spec), { verbose }))).toEqual([]);
    }
    const issues = await issuesFor((spec) => Object.assign(fit(spec), { verbose: 3 }));
    expect(issues.map((issue) => issue.path)).toEqual(["/fit/verbose"]);
  });

  it("refuses fit.validation_data with data.validation or validation_split, naming the field", async () => {
    const both = await issuesFor((spec) => {
      spec.fit = { epochs: 5, validation_data: irisValidation };
      spec.data = { source: "builtin", name: "iris", validation: irisValidation };
    });
    expect(both).toEqual([
      {
        path: "/fit/validation_data",
        message: "data.validation is given too; give one or the other (they are the same thing)",
      },
    ]);
    const split = await issuesFor((spec) => Object.assign(fit(spec), { validation_data: irisValidation }));
    expect(split).toEqual([
      { path: "/fit/validation_split", message: "fit.validation_data is given too; give one or the other" },
    ]);
  });

  it("names problems of fit.validation_data's data at its own path", async () => {
    const ragged = await issuesFor((spec) => {
      spec.fit = { epochs: 5, validation_data: { source: "inline", x: [[1, 2, 3, 4], [1]], y: [0, 1] } };
    });
    expect(ragged.map((issue) => issue.path)).toEqual(["/fit/validation_data/x/1"]);
    const narrow = await issuesFor((spec) => {
      spec.fit = { epochs: 5, validation_data: { source: "inline", x: [[1, 2, 3]], y: [0] } };
    });
    expect(narrow).toEqual([
      {
        path: "/fit/validation_data",
        message:
          "the inline data has 3 features per sample; the model's input (model/layers/0/config/input_shape) is [4]",
      },
    ]);
  });

  it("checks fit.validation_data's file and size as data.validation's, at its own path", async () => {
    const elsewhere = await issuesFor((spec) => {
      spec.fit = {
        epochs: 5,
        validation_data: { source: "uri", uri: "s3://other/valid.csv", label: "species" },
      };
    });
    expect(elsewhere.map((issue) => issue.path)).toEqual(["/fit/validation_data/uri"]);
    const large = await validateJobSpec(
      { ...example(), fit: { epochs: 5, validation_data: { source: "builtin", name: "iris" } } },
      { ...limits, MAX_DATA_CELLS: 1000 },
      countParams,
      TENANT,
    );
    expect(!large.ok && large.issues).toEqual([
      {
        path: "/fit/validation_data",
        message: expect.stringContaining("training and validation data together"),
      },
    ]);
  });

  it("refuses sparse_categorical_crossentropy labels the output layer has no unit for", async () => {
    const iris = await issuesFor((spec) => {
      layers(spec)[1].config.units = 2;
    });
    expect(iris).toEqual([
      {
        path: "/model/layers/1/config/units",
        message: expect.stringContaining("must be at least 3: the builtin iris data has class indices 0..2"),
      },
    ]);
    const inline = await issuesFor((spec) => {
      spec.data = inlineData([0, 3, -1]);
    });
    expect(inline.map((issue) => [issue.path, issue.message.split(":")[0]])).toEqual([
      ["/data/y/1", "label 3 is outside [0, 3)"],
      ["/data/y/2", "label -1 is outside [0, 3)"],
    ]);
    const accepted = await validate((spec) => {
      spec.data = inlineData([2, 0]);
    });
    expect(accepted.ok).toBe(true);
  });

  it("refuses binary_crossentropy labels outside [0, 1]", async () => {
    const binary = (spec: Record<string, unknown>) => {
      layers(spec)[1].config = { units: 1, activation: "sigmoid" };
      (spec.compile as Record<string, unknown>).loss = "binary_crossentropy";
      (spec.compile as Record<string, unknown>).metrics = ["accuracy"];
    };
    const iris = await issuesFor(binary);
    expect(iris).toEqual([{ path: "/compile/loss", message: expect.stringContaining("class indices 0..2") }]);
    const inline = await issuesFor((spec) => {
      binary(spec);
      spec.data = inlineData([1, 2]);
    });
    expect(inline).toEqual([
      {
        path: "/data/y/1",
        message: "label 2 is outside [0, 1]: binary_crossentropy takes labels between 0 and 1",
      },
    ]);
    const accepted = await validate((spec) => {
      binary(spec);
      spec.data = inlineData([1, 0.25]);
    });
    expect(accepted.ok).toBe(true);
  });

  it("refuses a model input that does not take the data's features, and accepts one that does", async () => {
    const wide = await issuesFor((spec) => {
      layers(spec)[0].config.input_shape = [5];
    });
    expect(wide).toEqual([
      {
        path: "/model/layers/0/config/input_shape",
        message:
          "is [5], but the builtin iris data has 4 features per sample: the model's input must take [4]",
      },
    ]);
    const inputLayer = await issuesFor((spec) => {
      delete layers(spec)[0].config.input_shape;
      layers(spec).unshift({ class_name: "InputLayer", config: { batch_input_shape: [null, 2] } });
    });
    expect(inputLayer.map((issue) => issue.path)).toEqual(["/model/layers/0/config/batch_input_shape"]);
    const xor = await validate((spec) => {
      layers(spec)[0].config.input_shape = [2];
      layers(spec)[1].config.units = 2;
      spec.data = { source: "builtin", name: "xor" };
    });
    expect(xor.ok).toBe(true);
  });

  it("refuses class_weight keys for classes the training data does not have", async () => {
    const issues = await issuesFor((spec) =>
      Object.assign(fit(spec), { class_weight: { 0: 1, 1: 2, 5: 1 } }),
    );
    expect(issues).toEqual([
      {
        path: "/fit/class_weight/5",
        message: "class 5 does not occur in the training data; its classes are 0, 1, 2",
      },
    ]);
    const inline = await issuesFor((spec) => {
      spec.data = inlineData([0, 2]);
      Object.assign(fit(spec), { validation_split: 0.5, class_weight: { 0: 1, 1: 1, 2: 3 } });
    });
    expect(inline.map((issue) => issue.path)).toEqual(["/fit/class_weight/1"]);
    const accepted = await validate((spec) =>
      Object.assign(fit(spec), { class_weight: { 0: 1, 1: 2, 2: 1 } }),
    );
    expect(accepted.ok).toBe(true);
  });
});
