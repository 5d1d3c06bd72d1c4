import { OPTIMIZER_NAMES, type OptimizerName } from "@plateau/contract";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { getLearningRate, setLearningRate } from "./learning-rate";
import { createOptimizer } from "./optimizers";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function tinyModel(optimizer: OptimizerName, learningRate: number): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 1, inputShape: [1], useBias: false, kernelInitializer: "ones" })],
  });
  model.compile({ optimizer: createOptimizer(optimizer, learningRate), loss: "meanSquaredError" });
  return model;
}

const kernel = (model: tf.LayersModel) => model.getWeights()[0].dataSync()[0];

async function step(model: tf.LayersModel): Promise<number> {
  const before = kernel(model);
  const [x, y] = [tf.tensor2d([[1]]), tf.tensor2d([[0]])];
  await model.trainOnBatch(x, y);
  tf.dispose([x, y]);
  return kernel(model) - before;
}

describe("setLearningRate", () => {
  for (const name of OPTIMIZER_NAMES) {
    it(`${name}: a new rate scales the very next weight update`, async () => {
      const changed = tinyModel(name, 0.1);
      const kept = tinyModel(name, 0.1);
      // Same first step, so both optimizers hold the same state and see the same gradient next.
      expect(await step(changed)).toBeCloseTo(await step(kept), 6);
      setLearningRate(changed, 0.01);
      expect(getLearningRate(changed)).toBe(Math.fround(0.01));
      const small = await step(changed);
      const large = await step(kept);
      expect(large).not.toBe(0);
      expect(small / large).toBeCloseTo(0.1, 4);
    });
  }

  it("rejects a negative or non-finite rate", () => {
    const model = tinyModel("sgd", 0.1);
    expect(() => setLearningRate(model, -1)).toThrow(/learning rate/);
    expect(() => setLearningRate(model, Number.NaN)).toThrow(/learning rate/);
  });
});
