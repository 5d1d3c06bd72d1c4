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
