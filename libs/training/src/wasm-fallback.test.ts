import type { ModelSpec } from "@plateau/contract";
import type { KernelBackend } from "@tensorflow/tfjs";
import * as tfjs from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { compileModel } from "./compile";
import { buildModel } from "./model";
import { COMPLEX_KERNELS, missingKernels, registerWasmFallbacks } from "./wasm-fallback";

// Importing tfjs-backend-wasm registers its kernels: these are wasm's own, before any fallback exists.
const nativeWasmKernels = tfjs.getKernelsForBackend("wasm");
const lackedByWasm = missingKernels(tfjs, "wasm");

let tf: Tf;
let cpuFallbacks: string[];
const logged: string[] = [];
beforeAll(async () => {
  ({ tf, cpuFallbacks } = await selectBackend("wasm", { log: (message) => logged.push(message) }));
});

describe("kernels wasm lacks", () => {
  it("fall back to cpu, read from the registry: every cpu kernel wasm lacks except the complex64 ones", () => {
    expect(lackedByWasm).toEqual(expect.arrayContaining(["Conv2DBackpropFilter", "UnsortedSegmentSum"]));
    const expected = lackedByWasm.filter((name) => !COMPLEX_KERNELS.includes(name));
    expect(cpuFallbacks).toEqual(expected);
    expect(missingKernels(tf, "wasm")).toEqual(lackedByWasm.filter((name) => COMPLEX_KERNELS.includes(name)));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(`run on the cpu backend, at cpu speed: ${expected.join(", ")}`);
  });

  it("never replace a kernel wasm has, and are registered and logged only once", async () => {
    expect(nativeWasmKernels.length).toBeGreaterThan(100);
    for (const native of nativeWasmKernels) {
      expect(tf.getKernel(native.kernelName, "wasm")).toBe(native);
    }
    expect(registerWasmFallbacks(tf)).toEqual({
      added: [],
      active: cpuFallbacks,
      unsupported: COMPLEX_KERNELS,
    });
    const again = await selectBackend("wasm", { log: (message) => logged.push(message) });
    expect(again.cpuFallbacks).toEqual(cpuFallbacks);
    expect(logged).toHaveLength(1);
  });

  it("compute what cpu computes, and a complex64 kernel still fails naming itself", async () => {
    await tf.setBackend("wasm");
    // Einsum and UnsortedSegmentSum on wasm tensors, through the fallback.
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = tf.tensor2d([1, 0, 2, 1, 0, 3], [3, 2]);
    expect(await tf.einsum("ij,jk->ik", a, b).array()).toEqual(await tf.matMul(a, b).array());
    const segments = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([0, 2, 0, 1], "int32"), 3);
    expect(tf.getBackend()).toBe("wasm");
    expect(Array.from(await segments.data())).toEqual([4, 4, 2]);
    // Strings and several outputs (RaggedRange: splits and values) cross over too.
    expect(await tf.string.staticRegexReplace(["ab", "cb"], "b", "x").array()).toEqual(["ax", "cx"]);
    const ragged = tf.raggedRange(
      tf.tensor1d([0, 5], "int32"),
      tf.tensor1d([2, 7], "int32"),
      tf.scalar(1, "int32"),
    );
    expect(await ragged.rtNestedSplits.array()).toEqual([0, 2, 4]);
    expect(await ragged.rtDenseValues.array()).toEqual([0, 1, 5, 6]);
    expect(() => tf.complex([1], [2])).toThrow(/Complex.*wasm/);
  });
});

type Weights = { values: Float32Array; shape: number[] }[];

interface Run {
  losses: number[];
  weights: Float32Array[];
  /** Engine tensors and cpu-backend data ids made by a training step and never freed. */
  leaked: { tensors: number; cpuData: number };
}

/** Trains `spec` from `initial` weights on `backend` for `steps` batches of SGD and records each loss. */
async function train(
  backend: "wasm" | "cpu",
  spec: ModelSpec,
  initial: Weights,
  data: { x: number[][] | number[][][][]; y: number[] },
  steps: number,
): Promise<Run> {
  await tf.setBackend(backend);
  const model = await buildModel(tf, spec);
  const start = initial.map((w) => tf.tensor(w.values, w.shape));
  model.setWeights(start);
  tf.dispose(start);
  compileModel(tf, model, {
    optimizer: { name: "sgd", learning_rate: 0.5 },
    loss: "sparse_categorical_crossentropy",
  });
  const x = tf.tensor(data.x, undefined, "float32");
  const y = tf.tensor1d(data.y);
  const cpu = tf.findBackend("cpu") as KernelBackend;
  const losses: number[] = [];
  let leaked = { tensors: 0, cpuData: 0 };
  for (let step = 0; step < steps; step++) {
    const tensors = tf.memory().numTensors;
    const cpuData = cpu.numDataIds();
    losses.push((await model.trainOnBatch(x, y)) as number);
    // The first step creates the optimizer's variables; later ones must not add anything.
    if (step > 0) {
      leaked = {
        tensors: leaked.tensors + tf.memory().numTensors - tensors,
        cpuData: leaked.cpuData + cpu.numDataIds() - cpuData,
      };
    }
  }
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  tf.dispose([x, y]);
  model.dispose();
  return { losses, weights, leaked };
}

async function initialWeights(spec: ModelSpec): Promise<Weights> {
  await tf.setBackend("cpu");
  const model = await buildModel(tf, spec);
  const weights = model.getWeights().map((w) => ({ values: w.dataSync() as Float32Array, shape: w.shape }));
  model.dispose();
  return weights;
}

/** Trains on wasm and on cpu from the same weights: same losses and weights, and no leak on wasm. */
async function expectSameTraining(spec: ModelSpec, data: Parameters<typeof train>[3]) {
  const initial = await initialWeights(spec);
  const wasm = await train("wasm", spec, initial, data, 4);
  const cpu = await train("cpu", spec, initial, data, 4);
  expect(wasm.losses).toHaveLength(4);
  expect(wasm.losses[3]).toBeLessThan(wasm.losses[0]);
  wasm.losses.forEach((loss, step) => {
    expect(loss).toBeCloseTo(cpu.losses[step], 4);
  });
  wasm.weights.forEach((values, i) => {
    const diff = values.reduce((max, v, j) => Math.max(max, Math.abs(v - cpu.weights[i][j])), 0);
    expect(diff).toBeLessThan(1e-4);
  });
  expect(wasm.leaked).toEqual({ tensors: 0, cpuData: 0 });
}

/** Deterministic pseudo-random numbers in [0, 1). */
function sequence(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  });
}

describe("training on wasm with the fallbacks", () => {
  it("a Conv2D + MaxPooling2D classifier trains as on cpu (Conv2DBackpropFilter)", async () => {
    const spec: ModelSpec = {
      layers: [
        {
          class_name: "Conv2D",
          config: { filters: 4, kernel_size: 3, activation: "relu", input_shape: [8, 8, 1] },
        },
        { class_name: "MaxPooling2D", config: { pool_size: 2 } },
        { class_name: "Flatten" },
        { class_name: "Dense", config: { units: 3, activation: "softmax" } },
      ],
    };
    const pixels = sequence(6 * 64, 7);
    const x = Array.from({ length: 6 }, (_, n) =>
      Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => [pixels[n * 64 + r * 8 + c]])),
    );
    await expectSameTraining(spec, { x, y: [0, 1, 2, 0, 1, 2] });
  });

  it("an Embedding + GRU classifier trains as on cpu (UnsortedSegmentSum)", async () => {
    const spec: ModelSpec = {
      layers: [
        { class_name: "Embedding", config: { input_dim: 10, output_dim: 4, input_shape: [5] } },
        { class_name: "GRU", config: { units: 4, reset_after: false } },
        { class_name: "Dense", config: { units: 2, activation: "softmax" } },
      ],
    };
    const ids = sequence(8 * 5, 3).map((v) => Math.floor(v * 10));
    const x = Array.from({ length: 8 }, (_, n) => ids.slice(n * 5, n * 5 + 5));
    await expectSameTraining(spec, { x, y: [0, 1, 1, 0, 1, 0, 0, 1] });
  });
});
