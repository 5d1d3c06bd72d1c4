import type { LearningRateScheduleSpec } from "@plateau/contract";
import { describe, expect, it } from "vitest";
import { checkCompile } from "./compile";
import { buildLearningRateSchedule } from "./lr-schedules";

/** Relative closeness: the schedules compute at float32 (one rounding per operation), these at float64. */
function expectNear(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-6 * Math.abs(expected) + 1e-12);
}

// Each reference is the formula in the Keras documentation of the class (keras.optimizers.schedules).
const cases: { spec: LearningRateScheduleSpec; expected: Record<number, number> }[] = [
  {
    spec: {
      class_name: "ExponentialDecay",
      config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5 },
    },
    expected: { 0: 0.1, 5: 0.1 * 0.5 ** 0.5, 25: 0.1 * 0.5 ** 2.5 },
  },
  {
    spec: {
      class_name: "ExponentialDecay",
      config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5, staircase: true },
    },
    expected: { 9: 0.1, 10: 0.05, 25: 0.025 },
  },
  {
    spec: { class_name: "PiecewiseConstantDecay", config: { boundaries: [10, 20], values: [1, 0.5, 0.1] } },
    expected: { 0: 1, 10: 1, 11: 0.5, 20: 0.5, 21: 0.1, 1000: 0.1 },
  },
  {
    spec: {
      class_name: "PolynomialDecay",
      config: { initial_learning_rate: 0.1, decay_steps: 10, end_learning_rate: 0.01, power: 2 },
    },
    expected: { 0: 0.1, 5: 0.09 * 0.5 ** 2 + 0.01, 10: 0.01, 15: 0.01 },
  },
  {
    // cycle: decay_steps grows to the first multiple at or above the step (20 at step 15).
    spec: {
      class_name: "PolynomialDecay",
      config: { initial_learning_rate: 0.1, decay_steps: 10, end_learning_rate: 0.01, power: 2, cycle: true },
    },
    expected: { 0: 0.1, 15: 0.09 * 0.25 ** 2 + 0.01, 20: 0.01, 21: 0.09 * (1 - 21 / 30) ** 2 + 0.01 },
  },
  {
    spec: { class_name: "PolynomialDecay", config: { initial_learning_rate: 0.1, decay_steps: 4 } },
    expected: { 1: (0.1 - 0.0001) * 0.75 + 0.0001 },
  },
  {
    spec: {
      class_name: "InverseTimeDecay",
      config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5 },
    },
    expected: { 0: 0.1, 5: 0.1 / (1 + 0.5 * 0.5), 15: 0.1 / (1 + 0.5 * 1.5) },
  },
  {
    spec: {
      class_name: "InverseTimeDecay",
      config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5, staircase: true },
    },
    expected: { 15: 0.1 / (1 + 0.5), 20: 0.1 / (1 + 1) },
  },
  {
    spec: { class_name: "CosineDecay", config: { initial_learning_rate: 0.1, decay_steps: 100, alpha: 0.1 } },
    expected: {
      0: 0.1,
      30: 0.1 * (0.9 * 0.5 * (1 + Math.cos((Math.PI * 30) / 100)) + 0.1),
      50: 0.1 * (0.9 * 0.5 + 0.1),
      200: 0.1 * 0.1,
    },
  },
  {
    // Keras 3: a linear warmup from initial_learning_rate to warmup_target, then the cosine from there.
    spec: {
      class_name: "CosineDecay",
      config: { initial_learning_rate: 0, decay_steps: 100, warmup_target: 0.1, warmup_steps: 10 },
    },
    expected: {
      0: 0,
      5: 0.05,
      10: 0.1,
      60: 0.1 * 0.5 * (1 + Math.cos(Math.PI * 0.5)),
      40: 0.1 * 0.5 * (1 + Math.cos(Math.PI * 0.3)),
    },
  },
  {
    // Periods of 10, 20, 40 steps (t_mul 2), each peak half the one before (m_mul 0.5).
    spec: {
      class_name: "CosineDecayRestarts",
      config: { initial_learning_rate: 0.1, first_decay_steps: 10, t_mul: 2, m_mul: 0.5 },
    },
    expected: {
      0: 0.1,
      5: 0.1 * 0.5 * (1 + Math.cos(Math.PI * 0.5)),
      10: 0.05,
      20: 0.05 * 0.5 * (1 + Math.cos(Math.PI * 0.5)),
      30: 0.025,
      40: 0.025 * 0.5 * (1 + Math.cos(Math.PI * 0.25)),
    },
  },
  {
    spec: {
      class_name: "CosineDecayRestarts",
      config: { initial_learning_rate: 0.1, first_decay_steps: 10, t_mul: 1, alpha: 0.2 },
    },
    expected: {
      10: 0.1,
      15: 0.1 * (0.8 * 0.5 * (1 + Math.cos(Math.PI * 0.5)) + 0.2),
      19: 0.1 * (0.8 * 0.5 * (1 + Math.cos(Math.PI * 0.9)) + 0.2),
    },
  },
];

describe("learning-rate schedules, per step, as Keras computes them", () => {
  for (const { spec, expected } of cases) {
    it(`${spec.class_name} ${JSON.stringify(spec.config)}`, () => {
      const schedule = buildLearningRateSchedule(spec);
      for (const [step, rate] of Object.entries(expected)) expectNear(schedule(Number(step)), rate);
    });
  }

  it("accepts a schedule as keras.optimizers.schedules.serialize writes it", () => {
    const serialized = {
      module: "keras.optimizers.schedules",
      class_name: "CosineDecay",
      config: {
        initial_learning_rate: 0.0,
        decay_steps: 1000,
        alpha: 0.0,
        name: "CosineDecay",
        warmup_target: 0.001,
        warmup_steps: 100,
      },
      registered_name: null,
    };
    expect(checkCompile({ optimizer: { name: "adamw", learning_rate: serialized }, loss: "mse" })).toEqual(
      [],
    );
  });
});
