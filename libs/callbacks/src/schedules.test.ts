import type { NamedSchedule } from "@plateau/contract";
import { describe, expect, it } from "vitest";
import { buildSchedule, compileSchedule, scheduleIssues } from "./schedules";
import { validateCallbackSpecs } from "./validate";

/** Keras's `assertAllClose(actual, expected, 1e-6)`: atol and rtol 1e-6. */
function expectClose(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(expected));
  // Keras computes in the dtype of initial_learning_rate, float32.
  expect(Math.fround(actual)).toBe(actual);
}

const at = (params: NamedSchedule, step: number) => buildSchedule(params)(step);

// The cases of keras/src/optimizers/schedules/learning_rate_schedule_test.py, step = epoch.
describe("exponential_decay", () => {
  it("continuous: 0.05 * 0.96 ^ (5 / 10)", () => {
    const params = {
      name: "exponential_decay",
      initial_learning_rate: 0.05,
      decay_steps: 10,
      decay_rate: 0.96,
    } as const;
    expectClose(at(params, 5), 0.05 * 0.96 ** (5 / 10));
  });

  it("staircase: unchanged within the first interval, then 0.1 * 0.96 ^ (100 // 3)", () => {
    const params = {
      name: "exponential_decay",
      initial_learning_rate: 0.1,
      decay_steps: 3,
      decay_rate: 0.96,
      staircase: true,
    } as const;
    expectClose(at(params, 1), 0.1);
    expectClose(at(params, 2), 0.1);
    expectClose(at(params, 100), 0.1 * 0.96 ** Math.floor(100 / 3));
  });
});

describe("piecewise_constant", () => {
  it("keeps each boundary in the interval below it", () => {
    const params: NamedSchedule = {
      name: "piecewise_constant",
      boundaries: [100, 110, 120],
      values: [1.0, 0.1, 0.01, 0.001],
    };
    const expected: [number, number][] = [
      [-999, 1],
      [100, 1],
      [105, 0.1],
      [110, 0.1],
      [120, 0.01],
      [999, 0.001],
    ];
    for (const [step, value] of expected) expectClose(at(params, step), value);
  });

  it("boundary values [1, 2, 3] → [0.4, 0.5, 0.6, 0.7]", () => {
    const params: NamedSchedule = {
      name: "piecewise_constant",
      boundaries: [1, 2, 3],
      values: [0.4, 0.5, 0.6, 0.7],
    };
    expect([0, 1, 2, 3, 4].map((step) => at(params, step))).toEqual(
      [0.4, 0.4, 0.5, 0.6, 0.7].map(Math.fround),
    );
  });

  it("rejects mismatched lengths and unsorted boundaries", () => {
    const params: NamedSchedule = { name: "piecewise_constant", boundaries: [5, 5], values: [1, 0.5] };
    expect(scheduleIssues(params)).toEqual([
      { path: "/values", message: "must have one more element than boundaries (3), got 2" },
      { path: "/boundaries/1", message: "boundaries must be strictly increasing" },
    ]);
    expect(() => buildSchedule(params)).toThrow("piecewise_constant: values must have one more element");
  });
});

describe("cosine_decay", () => {
  const npCosineDecay = (step: number, decaySteps: number, alpha = 0) => {
    const fraction = Math.min(step, decaySteps) / decaySteps;
    return (1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * fraction)) + alpha;
  };
  const steps = [0, 250, 500, 750, 1000, 1250];

  it("decays over decay_steps and then stays at alpha", () => {
    for (const step of steps) {
      expectClose(
        at({ name: "cosine_decay", initial_learning_rate: 1, decay_steps: 1000 }, step),
        npCosineDecay(step, 1000),
      );
    }
  });

  it("alpha 0.1", () => {
    for (const step of steps) {
      const params = {
        name: "cosine_decay",
        initial_learning_rate: 1,
        decay_steps: 1000,
        alpha: 0.1,
      } as const;
      expectClose(at(params, step), npCosineDecay(step, 1000, 0.1));
    }
  });

  it("warms up linearly to warmup_target, then decays from it", () => {
    const params = {
      name: "cosine_decay",
      initial_learning_rate: 0,
      decay_steps: 1000,
      warmup_target: 10,
      warmup_steps: 2000,
    } as const;
    for (let step = 0; step < 3000; step += 250) {
      const expected = step <= 2000 ? (step / 2000) * 10 : 10 * npCosineDecay(step - 2000, 1000);
      expect(at(params, step)).toBeCloseTo(expected, 5);
    }
  });
});

describe("step_decay", () => {
  it("is initial_learning_rate * drop ^ floor(epoch / epochs_drop), the first drop after epochs_drop epochs", () => {
    const schedule = buildSchedule({
      name: "step_decay",
      initial_learning_rate: 0.1,
      drop: 0.5,
      epochs_drop: 10,
    });
    const rates = [0, 9, 10, 19, 20, 35].map(schedule);
    expect(rates).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125].map(Math.fround));
  });
});

describe("compileSchedule", () => {
  it("takes an expression over epoch and lr", () => {
    expect(compileSchedule("1 / (2 + epoch)")(0, 0.01)).toBe(0.5);
    expect(compileSchedule("lr / 2")(3, 0.03)).toBe(0.015);
  });

  it("takes a Python function over epoch and lr, as Keras's guide writes it", () => {
    const scheduler = compileSchedule(
      "def scheduler(epoch, lr):\n    if epoch < 10:\n        return lr\n    else:\n        return lr * math.exp(-0.1)",
    );
    expect(scheduler(9, 0.01)).toBe(0.01);
    expect(scheduler(10, 0.01)).toBe(0.01 * 0.9048374180359595);
  });

  it("ignores lr for named schedules", () => {
    const schedule = compileSchedule({
      name: "step_decay",
      initial_learning_rate: 0.1,
      drop: 0.5,
      epochs_drop: 1,
    });
    expect(schedule(1, 123)).toBe(Math.fround(0.05));
  });
});

describe("LearningRateScheduler spec validation", () => {
  const check = (schedule: unknown) =>
    validateCallbackSpecs([{ type: "EarlyStopping" }, { type: "LearningRateScheduler", schedule }]);

  it("accepts expressions and named schedules", () => {
    expect(
      check("lr < 0.001 ? lr * 1.5 : epoch < 5 ? lr : epoch < 10 ? lr * exp(-0.1) : lr * exp(-0.05)"),
    ).toEqual([]);
    expect(
      check({ name: "cosine_decay", initial_learning_rate: 0.1, decay_steps: 20, warmup_target: null }),
    ).toEqual([]);
  });

  it("reports a syntax error or an unknown name at the schedule's path", () => {
    expect(check("lr *")).toEqual([
      { path: "/1/schedule", message: "syntax error: Unexpected end of expression (char 5)" },
    ]);
    expect(check("lr * gamma")).toEqual([
      { path: "/1/schedule", message: "unknown variable 'gamma'; allowed: epoch, lr" },
    ]);
    expect(check('import("fs")')).toEqual([
      { path: "/1/schedule", message: expect.stringContaining("'import' is not an allowed function") },
    ]);
  });

  it("reports bad named-schedule parameters with their paths", () => {
    expect(check({ name: "linear" })).toEqual([
      {
        path: "/1/schedule/name",
        message:
          "unknown schedule 'linear'; known: exponential_decay, piecewise_constant, cosine_decay, step_decay",
      },
    ]);
    expect(
      check({
        name: "exponential_decay",
        initial_learning_rate: 0.1,
        decay_steps: 0,
        decay_rate: 0.9,
        gamma: 1,
      }),
    ).toEqual([
      { path: "/1/schedule/decay_steps", message: "must be > 0" },
      { path: "/1/schedule/gamma", message: expect.stringContaining("unknown option 'gamma'") },
    ]);
    expect(check({ name: "step_decay", drop: 0.5 })).toEqual([
      { path: "/1/schedule/initial_learning_rate", message: "is required" },
      { path: "/1/schedule/epochs_drop", message: "is required" },
    ]);
    expect(check({ name: "piecewise_constant", boundaries: [3, 1], values: [0.1, 0.01, 0.001] })).toEqual([
      { path: "/1/schedule/boundaries/1", message: "boundaries must be strictly increasing" },
    ]);
  });

  it("requires the schedule", () => {
    expect(validateCallbackSpecs([{ type: "LearningRateScheduler" }])).toEqual([
      { path: "/0/schedule", message: "is required" },
    ]);
  });
});
