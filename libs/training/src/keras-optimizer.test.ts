// biome-ignore-all lint/suspicious/noThenProperty: `then` is the Rule spec's documented field; its value is never a function, so these objects are not thenables.
import { getLearningRate } from "@plateau/callbacks";
import { type CompileSpec, OPTIMIZER_NAMES } from "@plateau/contract";
import type { LayersModel, Optimizer, Variable } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { buildOptimizer, checkCompile, compileModel, scheduleConflicts } from "./compile";
import { buildLearningRateSchedule } from "./lr-schedules";
import { buildModel } from "./model";
import { SpecError } from "./spec-error";

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("cpu")).tf;
});

type OptimizerSpec = CompileSpec["optimizer"];

/** A small least-squares problem over two variables, stepped with `optimizer` `steps` times. */
function train(optimizer: Optimizer, variables: Variable[], steps: number): void {
  const [w, b] = variables;
  for (let step = 0; step < steps; step++) {
    tf.tidy(() => {
      const x = tf.tensor2d([
        [1, -2, 0.5],
        [0.3, 0.8, -1],
        [2, 0.1, 0.4],
        [-0.7, 1.5, 1.1],
      ]);
      const y = tf.tensor2d([
        [1, 0],
        [0, 1],
        [1, 1],
        [0, 0],
      ]);
      const { grads } = tf.variableGrads(
        () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as never,
      );
      optimizer.applyGradients(grads);
    });
  }
}

function fresh(): Variable[] {
  return [
    tf.variable(
      tf.tensor2d([
        [0.1, -0.2],
        [0.3, 0.05],
        [-0.4, 0.25],
      ]),
    ),
    tf.variable(tf.tensor1d([0.01, -0.02])),
  ];
}

const values = (variables: Variable[]) => variables.map((v) => Array.from(v.dataSync()));

/** The trained variables and every piece of the optimizer's state (step count, slots), as numbers. */
async function state(variables: Variable[], optimizer: Optimizer) {
  const weights = await optimizer.getWeights();
  return { variables: values(variables), optimizer: weights.map((w) => Array.from(w.tensor.dataSync())) };
}

/** Variables after N steps, then M more; and after N steps, a snapshot, and M steps on a restored optimizer. */
async function resumed(spec: OptimizerSpec, n: number, m: number) {
  const variables = fresh();
  const first = buildOptimizer(tf, spec);
  train(first, variables, n);
  const snapshot = (await first.getWeights()).map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
  const weightsAtN = variables.map((v) => tf.clone(v));
  train(first, variables, m);
  const continued = await state(variables, first);

  variables.forEach((v, i) => {
    v.assign(weightsAtN[i]);
  });
  const restored = buildOptimizer(tf, spec);
  await restored.setWeights(snapshot);
  train(restored, variables, m);
  const afterRestore = await state(variables, restored);

  variables.forEach((v, i) => {
    v.assign(weightsAtN[i]);
  });
  const unrestored = buildOptimizer(tf, spec);
  train(unrestored, variables, m);
  const withoutRestore = await state(variables, unrestored);
  tf.dispose([...variables, ...weightsAtN, ...snapshot.map((s) => s.tensor)]);
  for (const optimizer of [first, restored, unrestored]) optimizer.dispose();
  return { continued, afterRestore, withoutRestore, names: snapshot.map((s) => s.name) };
}

describe("optimizer state through getWeights/setWeights", () => {
  const cases: OptimizerSpec[] = [
    ...OPTIMIZER_NAMES.filter((name) => name !== "sgd"),
    { name: "sgd", momentum: 0.5, nesterov: true },
    { name: "adam", amsgrad: true, clipnorm: 0.05 },
    { name: "rmsprop", weight_decay: 0.01, global_clipnorm: 0.1, centered: true, momentum: 0.3 },
    {
      name: "adamw",
      learning_rate: {
        class_name: "CosineDecay",
        config: { initial_learning_rate: 0.01, decay_steps: 6, warmup_target: 0.05, warmup_steps: 2 },
      },
      clipvalue: 0.02,
    },
    {
      name: "adagrad",
      learning_rate: {
        class_name: "ExponentialDecay",
        config: { initial_learning_rate: 0.1, decay_steps: 2, decay_rate: 0.5 },
      },
    },
  ];
  for (const spec of cases) {
    it(`${JSON.stringify(spec)}: 3 steps, snapshot, 4 steps = restored from the snapshot, 4 steps`, async () => {
      const { continued, afterRestore, withoutRestore, names } = await resumed(spec, 3, 4);
      expect(names[0]).toBe("iter");
      expect(continued.variables.flat().every(Number.isFinite)).toBe(true);
      expect(afterRestore).toEqual(continued);
      // The snapshot carries what a fresh optimizer lacks (slots and the step count).
      expect(withoutRestore.optimizer).not.toEqual(continued.optimizer);
    });
  }

  it("leaves a variable without a gradient as it is, as Keras filters empty gradients", () => {
    const [w, b] = fresh();
    const optimizer = buildOptimizer(tf, { name: "adamw", global_clipnorm: 1 });
    const before = values([w, b]);
    const gradient = tf.ones([2]);
    optimizer.applyGradients([
      { name: w.name, tensor: null as never },
      { name: b.name, tensor: gradient },
    ]);
    const [wAfter, bAfter] = values([w, b]);
    expect(wAfter).toEqual(before[0]);
    expect(bAfter).not.toEqual(before[1]);
    tf.dispose([w, b, gradient]);
    optimizer.dispose();
  });

  it("plain SGD holds only its step count, and a restored one continues the same", async () => {
    const { continued, afterRestore, names } = await resumed("sgd", 2, 3);
    expect(names).toEqual(["iter"]);
    expect(afterRestore).toEqual(continued);
  });
});

/** y = w·x with w = 1, no bias: each step on x = 1, y = 0 under MSE has gradient 2w. */
async function weightAfterSteps(
  optimizer: OptimizerSpec,
  steps = 1,
): Promise<{ w: number; model: LayersModel }> {
  const model = await buildModel(tf, {
    layers: [
      {
        class_name: "Dense",
        config: { units: 1, input_shape: [1], use_bias: false, kernel_initializer: "ones" },
      },
    ],
  });
  compileModel(tf, model, { optimizer, loss: "mse" });
  const [x, y] = [tf.tensor2d([[1]]), tf.tensor2d([[0]])];
  await model.fit(x, y, { epochs: steps, batchSize: 1, verbose: 0 });
  tf.dispose([x, y]);
  return { w: model.getWeights()[0].dataSync()[0], model };
}

describe("Keras's update rules and base-optimizer arguments, first steps from w = 1 (gradient 2)", () => {
  const g = 2;
  const eps = 1e-7;
  // Nadam's momentum schedule μ_t = 0.9(1 − ½·0.96^t) at t = 1, 2.
  const [mu1, mu2] = [0.9 * (1 - 0.5 * 0.96), 0.9 * (1 - 0.5 * 0.96 ** 2)];
  const cases: { spec: OptimizerSpec; expected: number }[] = [
    // AdamW: decay first (w − w·wd·lr), then Adam's step, whose size is lr·(√v̂/(√v̂ + ε)) on the first step.
    {
      spec: { name: "adamw", learning_rate: 0.1 },
      expected: 1 - 1 * 0.004 * 0.1 - (0.1 * Math.sqrt(0.001 * g * g)) / (Math.sqrt(0.001 * g * g) + eps),
    },
    { spec: { name: "lion", learning_rate: 0.1 }, expected: 1 - 0.1 },
    {
      spec: { name: "nadam", learning_rate: 0.1 },
      expected:
        1 -
        (0.1 * ((mu2 * 0.1 * g) / (1 - mu1 * mu2) + ((1 - mu1) * g) / (1 - mu1))) /
          (Math.sqrt((0.001 * g * g) / 0.001) + eps),
    },
    { spec: { name: "sgd", learning_rate: 0.1, clipnorm: 1 }, expected: 1 - 0.1 * 1 },
    { spec: { name: "sgd", learning_rate: 0.1, clipvalue: 0.5 }, expected: 1 - 0.1 * 0.5 },
    { spec: { name: "sgd", learning_rate: 0.1, global_clipnorm: 1.5 }, expected: 1 - 0.1 * 1.5 },
    { spec: { name: "sgd", learning_rate: 0.1, clipnorm: 0 }, expected: 1 - 0.1 * g },
    { spec: { name: "sgd", learning_rate: 0.1, weight_decay: 0.1 }, expected: 1 - 0.1 * 0.1 - 0.1 * g },
    {
      spec: { name: "rmsprop", learning_rate: 0.01, rho: 0.5, clipvalue: 1 },
      expected: 1 - 0.01 / Math.sqrt(0.5 + eps),
    },
  ];
  for (const { spec, expected } of cases) {
    it(JSON.stringify(spec), async () => {
      const { w, model } = await weightAfterSteps(spec);
      // Keras computes in float32 (1 − β₂ alone is off by 1.3e-5 relative): the formulas above are float64.
      expect(w).toBeCloseTo(expected, 5);
      model.dispose();
    });
  }

  it("steps a schedule every batch and reads the rate Keras's optimizer.learning_rate reports", async () => {
    const spec: OptimizerSpec = {
      name: "sgd",
      learning_rate: {
        class_name: "ExponentialDecay",
        config: { initial_learning_rate: 0.1, decay_steps: 1, decay_rate: 0.5 },
      },
    };
    // Step 0 at rate 0.1: w = 1 − 0.1·2 = 0.8; step 1 at 0.05: gradient 1.6, w = 0.8 − 0.08 = 0.72.
    const { w, model } = await weightAfterSteps(spec, 2);
    expect(w).toBeCloseTo(0.72, 6);
    // After two steps the schedule stands at step 2.
    const optimizer = model.optimizer as unknown as { learningRate: number };
    expect(optimizer.learningRate).toBeCloseTo(0.025, 9);
    // Keras's TypeError, as the job's own mistake: it fails once, unretried (a Webhook reply can ask for it).
    expect(() => {
      optimizer.learningRate = 0.5;
    }).toThrow(SpecError);
    expect(() => {
      optimizer.learningRate = 0.5;
    }).toThrow(/^\/compile\/optimizer\/learning_rate: is a schedule: TypeError: .*not settable/);
    // A snapshot's restore sets the rate it saved, which the restored step count gives again.
    const restored = buildOptimizer(tf, spec);
    await restored.setWeights(await model.optimizer.getWeights());
    const rate = restored as unknown as { learningRate: number };
    rate.learningRate = optimizer.learningRate;
    expect(rate.learningRate).toBe(optimizer.learningRate);
    model.dispose();
  });

  it("logs, at each epoch's end, the schedule at the steps taken so far (what run.ts reads into learning_rate)", async () => {
    const learning_rate = {
      class_name: "CosineDecay" as const,
      config: { initial_learning_rate: 0, decay_steps: 8, warmup_target: 0.01, warmup_steps: 4 },
    };
    const model = await buildModel(tf, {
      layers: [{ class_name: "Dense", config: { units: 1, input_shape: [2] } }],
    });
    compileModel(tf, model, { optimizer: { name: "adamw", learning_rate }, loss: "mse" });
    const logged: number[] = [];
    const [x, y] = [tf.ones([12, 2]), tf.zeros([12, 1])];
    // 12 rows in batches of 3: four steps per epoch.
    await model.fit(x, y, {
      epochs: 3,
      batchSize: 3,
      verbose: 0,
      callbacks: { onEpochEnd: async () => void logged.push(getLearningRate(model)) },
    });
    const schedule = buildLearningRateSchedule(learning_rate);
    expect(logged).toEqual([schedule(4), schedule(8), schedule(12)]);
    // Warmup done at step 4, halfway down the cosine at 8, at its end (alpha 0) at 12.
    [0.01, 0.005, 0].forEach((rate, epoch) => {
      expect(logged[epoch]).toBeCloseTo(rate, 8);
    });
    tf.dispose([x, y]);
    model.dispose();
  });

  it("a number rate stays settable (ReduceLROnPlateau, LearningRateScheduler)", async () => {
    const { model } = await weightAfterSteps({ name: "nadam", learning_rate: 0.1 });
    const optimizer = model.optimizer as unknown as { learningRate: number };
    optimizer.learningRate = 0.02;
    expect(optimizer.learningRate).toBe(0.02);
    model.dispose();
  });

  it("serializes a plain Adam as tfjs's (so a bare tfjs loads it back), the others under their own names", () => {
    expect(buildOptimizer(tf, "adam").getClassName()).toBe("Adam");
    expect(buildOptimizer(tf, { name: "adam", clipnorm: 1 }).getClassName()).toBe("PlateauAdam");
    expect(buildOptimizer(tf, "adamw").getClassName()).toBe("PlateauAdamW");
    expect(buildOptimizer(tf, "sgd").getClassName()).toBe("SGD");
    expect(buildOptimizer(tf, "momentum").getClassName()).toBe("PlateauSGD");
  });
});

describe("optimizer arguments at submission", () => {
  const paths = (optimizer: unknown) =>
    checkCompile({ optimizer, loss: "mse" }).map((issue) => `${issue.path}: ${issue.message}`);

  it("refuses what Keras refuses, naming the field", () => {
    expect(paths({ name: "adam", clipnorm: 1, clipvalue: 0.5 })).toEqual([
      "/compile/optimizer/clipvalue: only one of clipnorm, clipvalue and global_clipnorm can be set (Keras raises ValueError); got clipnorm and clipvalue",
    ]);
    expect(paths({ name: "lion", beta_1: 0 })[0]).toMatch(
      /^\/compile\/optimizer\/beta_1: must be in \(0, 1\]/,
    );
    expect(paths({ name: "sgd", momentum: 1.5 })).toEqual([
      "/compile/optimizer/momentum: must be between 0 and 1 (Keras raises ValueError)",
    ]);
    expect(paths({ name: "adamw", weight_decay: null })).toEqual([
      "/compile/optimizer/weight_decay: must be a number",
    ]);
    expect(paths({ name: "sgd", weight_decay: -1 })).toEqual([
      "/compile/optimizer/weight_decay: must be a finite number ≥ 0, or null",
    ]);
  });

  it("accepts Keras's defaults for what Plateau does not offer and refuses anything else, saying why", () => {
    expect(
      paths({
        name: "adam",
        use_ema: false,
        ema_momentum: 0.99,
        loss_scale_factor: null,
        weight_decay: null,
      }),
    ).toEqual([]);
    expect(paths({ name: "adam", use_ema: true, gradient_accumulation_steps: 4 })).toEqual([
      "/compile/optimizer/use_ema: use_ema = true is not supported: Plateau keeps no moving average of the weights; leave it out (Keras default false)",
      "/compile/optimizer/gradient_accumulation_steps: gradient_accumulation_steps = 4 is not supported: Plateau does not accumulate gradients across batches; leave it out (Keras default null)",
    ]);
  });

  it("takes an optimizer as keras.optimizers.serialize writes it, naming fields under config", async () => {
    // Keras 3's AdamW(learning_rate=CosineDecay(...), global_clipnorm=1.0), serialized.
    const serialized = {
      module: "keras.optimizers",
      class_name: "AdamW",
      config: {
        name: "adamw",
        learning_rate: {
          module: "keras.optimizers.schedules",
          class_name: "CosineDecay",
          config: {
            initial_learning_rate: 0.001,
            decay_steps: 100,
            alpha: 0.0,
            name: "CosineDecay",
            warmup_target: null,
            warmup_steps: 0,
          },
          registered_name: null,
        },
        weight_decay: 0.004,
        clipnorm: null,
        global_clipnorm: 1.0,
        clipvalue: null,
        use_ema: false,
        ema_momentum: 0.99,
        ema_overwrite_frequency: null,
        loss_scale_factor: null,
        gradient_accumulation_steps: null,
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-7,
        amsgrad: false,
      },
      registered_name: null,
    };
    expect(paths(serialized)).toEqual([]);
    expect(buildOptimizer(tf, serialized as never).getClassName()).toBe("PlateauAdamW");
    const { w: fromSerialized } = await weightAfterSteps(serialized as never, 2);
    const { w: fromName } = await weightAfterSteps(
      { name: "adamw", learning_rate: serialized.config.learning_rate, global_clipnorm: 1 } as never,
      2,
    );
    expect(fromSerialized).toBe(fromName);
    expect(paths({ class_name: "Ftrl", config: {} })[0]).toMatch(
      /^\/compile\/optimizer\/class_name: unsupported optimizer "Ftrl"; supported: SGD, Adam, AdamW/,
    );
    expect(paths({ ...serialized, config: { ...serialized.config, clipvalue: 1 } })[0]).toMatch(
      /^\/compile\/optimizer\/config\/global_clipnorm: only one of/,
    );
    expect(paths({ ...serialized, module: "keras.src" })).toEqual([
      '/compile/optimizer/module: must be "keras.optimizers"',
    ]);
    expect(
      scheduleConflicts({ compile: { optimizer: serialized }, callbacks: [{ type: "ReduceLROnPlateau" }] })[0]
        .message,
    ).toMatch(/\/compile\/optimizer\/config\/learning_rate is a CosineDecay schedule/);
  });

  it("checks schedule objects: known classes, and what Keras raises for PiecewiseConstantDecay", () => {
    expect(
      paths({
        name: "sgd",
        learning_rate: {
          class_name: "PiecewiseConstantDecay",
          config: { boundaries: [10, 5], values: [0.1, 0.01] },
        },
      }),
    ).toEqual([
      "/compile/optimizer/learning_rate/config/values: must have one more element than boundaries (3), got 2",
      "/compile/optimizer/learning_rate/config/boundaries/1: boundaries must be strictly increasing",
    ]);
    expect(paths({ name: "sgd", learning_rate: { class_name: "OneCycle", config: {} } })[0]).toMatch(
      /^\/compile\/optimizer\/learning_rate: must be a number or a Keras schedule object .*CosineDecayRestarts$/,
    );
  });

  it("refuses callbacks that set a schedule-driven rate, with Keras's reason", () => {
    const compile = {
      optimizer: {
        name: "adamw",
        learning_rate: {
          class_name: "CosineDecay",
          config: { initial_learning_rate: 0.001, decay_steps: 100 },
        },
      },
      loss: "mse",
    };
    const issues = scheduleConflicts({
      compile,
      callbacks: [
        { type: "EarlyStopping" },
        { type: "ReduceLROnPlateau" },
        { type: "LearningRateScheduler", schedule: "lr" },
        { type: "Rule", then: ["log", { set_learning_rate: "lr * 0.5" }] },
      ],
    });
    expect(issues.map((issue) => issue.path)).toEqual([
      "/callbacks/1/type",
      "/callbacks/2/type",
      "/callbacks/3/then/1/set_learning_rate",
    ]);
    expect(issues[0].message).toMatch(
      /^ReduceLROnPlateau reduces the learning rate, but \/compile\/optimizer\/learning_rate is a CosineDecay schedule, and Keras refuses .*TypeError: This optimizer was created with a `LearningRateSchedule`/,
    );
    expect(
      scheduleConflicts({
        compile: { ...compile, optimizer: "adamw" },
        callbacks: [{ type: "ReduceLROnPlateau" }],
      }),
    ).toEqual([]);
  });
});
