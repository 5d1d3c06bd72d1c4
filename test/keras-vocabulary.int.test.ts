// biome-ignore-all lint/suspicious/noThenProperty: `then` is the Rule spec's documented field; these objects are request bodies, never awaited.
import { readFileSync } from "node:fs";
import { loadConfig } from "@plateau/config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../apps/api/src/test-api";

/**
 * Keras's optimizer, schedule and layer vocabulary at submission, through HTTP: the README's example is
 * accepted as written, and what Keras would raise (or what Plateau does not offer) is a 400 at its field
 * with nothing stored or queued. Their training is tested in libs/training (keras-optimizer.test.ts,
 * lr-schedules.test.ts, preprocessing-layers.test.ts).
 */

const base = loadConfig();
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX: `${base.REDIS_PREFIX}-keras-vocabulary` });
});
afterAll(async () => {
  await api.deps.queue.obliterate({ force: true });
  await api.close();
});

const example = JSON.parse(
  readFileSync(new URL("../examples/logits-adamw-cosine.json", import.meta.url), "utf8"),
);
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

const submit = (spec: unknown) => api.inject({ method: "POST", url: "/v1/jobs", payload: spec as object });
const jobsStored = async () => [
  await api.deps.db.job.count({ where: { tenantId: api.tenant.id } }),
  await api.deps.queue.count(),
];

/** A copy of the example with `change` applied to it. */
function variant(change: (spec: typeof example) => void): typeof example {
  const spec = structuredClone(example);
  change(spec);
  return spec;
}

describe("Keras vocabulary at submission", () => {
  it("the README's logits + AdamW + cosine-decay example is the examples file, and is accepted as written", async () => {
    const marker = readme.indexOf("<!-- example:logits-adamw-cosine -->");
    expect(marker).toBeGreaterThan(-1);
    const block = readme.slice(marker).split("```json\n")[1].split("```")[0];
    expect(JSON.parse(block)).toEqual(example);

    const response = await submit(example);
    expect(response.statusCode, response.body).toBe(201);
    const job = response.json();
    expect(job.spec.compile.optimizer).toEqual(example.compile.optimizer);
  });

  const refused: { name: string; change: (spec: typeof example) => void; path: string; message: RegExp }[] = [
    {
      name: "ReduceLROnPlateau with a schedule-driven rate",
      change: (spec) => spec.callbacks.push({ type: "ReduceLROnPlateau", monitor: "val_loss" }),
      path: "/callbacks/1/type",
      message:
        /CosineDecay schedule, and Keras refuses to set a schedule-driven rate \(TypeError: This optimizer was created with a `LearningRateSchedule`/,
    },
    {
      name: "a Rule setting a schedule-driven rate",
      change: (spec) =>
        spec.callbacks.push({ type: "Rule", on: "epoch_end", then: { set_learning_rate: "lr * 0.5" } }),
      path: "/callbacks/1/then/set_learning_rate",
      message:
        /^set_learning_rate sets the learning rate, but \/compile\/optimizer\/learning_rate is a CosineDecay schedule/,
    },
    {
      name: "two clip arguments",
      change: (spec) => {
        spec.compile.optimizer.clipvalue = 0.5;
      },
      path: "/compile/optimizer/global_clipnorm",
      message: /^only one of clipnorm, clipvalue and global_clipnorm can be set/,
    },
    {
      name: "use_ema",
      change: (spec) => {
        spec.compile.optimizer.use_ema = true;
      },
      path: "/compile/optimizer/use_ema",
      message: /./,
    },
    {
      name: "a schedule class Keras does not have",
      change: (spec) => {
        spec.compile.optimizer.learning_rate.class_name = "OneCycleDecay";
      },
      path: "/compile/optimizer/learning_rate",
      message: /./,
    },
    {
      name: "a Normalization that would need adapt()",
      change: (spec) =>
        spec.model.layers.unshift({ class_name: "Normalization", config: { input_shape: [2] } }),
      path: "/model/layers/0/config/mean",
      message: /^Normalization needs mean and variance: Keras computes them with adapt\(\)/,
    },
  ];
  for (const { name, change, path, message } of refused) {
    it(`refuses ${name} with a 400 at ${path}, storing nothing`, async () => {
      const before = await jobsStored();
      const response = await submit(variant(change));
      expect(response.statusCode, response.body).toBe(400);
      const details = response.json().details as { path: string; message: string }[];
      expect(details.find((detail) => detail.path === path)?.message, JSON.stringify(details)).toMatch(
        message,
      );
      expect(await jobsStored()).toEqual(before);
    });
  }

  it("accepts an optimizer as keras.optimizers.serialize writes it", async () => {
    const spec = variant((s) => {
      const { name: _name, ...config } = s.compile.optimizer;
      s.compile.optimizer = {
        module: "keras.optimizers",
        class_name: "AdamW",
        config: { name: "adamw", ...config, use_ema: false, loss_scale_factor: null },
        registered_name: null,
      };
    });
    const response = await submit(spec);
    expect(response.statusCode, response.body).toBe(201);
    const refused = await submit(
      variant((s) => {
        s.compile.optimizer = { class_name: "Ftrl", config: {} };
      }),
    );
    expect(refused.statusCode).toBe(400);
    expect(refused.json().details).toEqual([
      {
        path: "/compile/optimizer/class_name",
        message: expect.stringMatching(/^must be one of "SGD", "Adam", "AdamW", /),
      },
    ]);
  });

  it("accepts the new layers and activations", async () => {
    const spec = variant((s) => {
      s.model.layers = [
        { class_name: "Rescaling", config: { scale: 0.5, offset: -0.1, input_shape: [2] } },
        { class_name: "Normalization", config: { mean: [0, 0.1], variance: [1, 2] } },
        { class_name: "Reshape", config: { target_shape: [1, 2, 1] } },
        { class_name: "SeparableConv2D", config: { filters: 4, kernel_size: 1, activation: "hard_silu" } },
        { class_name: "Flatten" },
        { class_name: "Dense", config: { units: 2, activation: "hard_sigmoid" } },
      ];
      s.compile.optimizer = { name: "nadam", clipnorm: 1 };
    });
    const response = await submit(spec);
    expect(response.statusCode, response.body).toBe(201);
  });
});
