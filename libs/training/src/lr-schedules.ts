/**
 * Keras learning-rate schedule objects as an optimizer's `learning_rate`
 * (keras/src/optimizers/schedules/learning_rate_schedule.py): called with the optimizer's step count
 * before each update, so the rate changes every batch as in Keras. Keras computes in the dtype of
 * initial_learning_rate, float32, one rounding per operation; so do these (Math.fround after every
 * operation). No tfjs here: the API validates schedules without loading TensorFlow.
 */
import {
  cosineDecay,
  decayProgress,
  exponentialDecay,
  piecewiseConstant,
  type Schedule,
  scheduleIssues,
} from "@plateau/callbacks/schedules";
import type { Issue, LearningRateScheduleSpec, ScheduleClassName } from "@plateau/contract";
import { isObject } from "./keras-config";

const f32 = Math.fround;

/** Keras's PolynomialDecay.__call__. */
function polynomialDecay(
  initial: number,
  decaySteps: number,
  end: number,
  power: number,
  cycle: boolean,
): Schedule {
  const rateSpan = f32(f32(initial) - f32(end));
  return (step) => {
    let at = f32(step);
    let span = f32(decaySteps);
    // Keras's cycle: the first multiple of decay_steps at or above the step (1 at step 0).
    if (cycle) span = f32(span * (at === 0 ? 1 : Math.ceil(f32(at / decaySteps))));
    else at = Math.min(at, span);
    const p = f32(at / span);
    return f32(f32(rateSpan * f32(f32(1 - p) ** f32(power))) + f32(end));
  };
}

/** Keras's InverseTimeDecay.__call__. */
function inverseTimeDecay(
  initial: number,
  decaySteps: number,
  decayRate: number,
  staircase: boolean,
): Schedule {
  return (step) =>
    f32(f32(initial) / f32(1 + f32(f32(decayRate) * decayProgress(step, decaySteps, staircase))));
}

/** Keras's CosineDecayRestarts.__call__ (SGDR): periods grow by t_mul, peaks shrink by m_mul. */
function cosineDecayRestarts(
  initial: number,
  firstDecaySteps: number,
  tMul: number,
  mMul: number,
  alpha: number,
): Schedule {
  const t = f32(tMul);
  return (step) => {
    let fraction = f32(f32(step) / f32(firstDecaySteps));
    let restart: number;
    if (t === 1) {
      restart = Math.floor(fraction);
      fraction = f32(fraction - restart);
    } else {
      restart = Math.floor(f32(f32(Math.log(f32(1 - f32(fraction * f32(1 - t))))) / f32(Math.log(t))));
      const done = f32(f32(1 - f32(t ** restart)) / f32(1 - t));
      fraction = f32(f32(fraction - done) / f32(t ** restart));
    }
    const peak = f32(f32(mMul) ** restart);
    const cosine = f32(f32(0.5 * peak) * f32(1 + f32(Math.cos(f32(f32(Math.PI) * fraction)))));
    return f32(f32(initial) * f32(f32(f32(1 - f32(alpha)) * cosine) + f32(alpha)));
  };
}

type Builders = {
  [K in ScheduleClassName]: (
    config: Extract<LearningRateScheduleSpec, { class_name: K }>["config"],
  ) => Schedule;
};

const BUILDERS: Builders = {
  ExponentialDecay: (c) =>
    exponentialDecay(c.initial_learning_rate, c.decay_steps, c.decay_rate, c.staircase ?? false),
  PiecewiseConstantDecay: (c) => piecewiseConstant(c.boundaries, c.values),
  PolynomialDecay: (c) =>
    polynomialDecay(
      c.initial_learning_rate,
      c.decay_steps,
      c.end_learning_rate ?? 0.0001,
      c.power ?? 1,
      c.cycle ?? false,
    ),
  InverseTimeDecay: (c) =>
    inverseTimeDecay(c.initial_learning_rate, c.decay_steps, c.decay_rate, c.staircase ?? false),
  CosineDecay: (c) =>
    cosineDecay({
      name: "cosine_decay",
      initial_learning_rate: c.initial_learning_rate,
      decay_steps: c.decay_steps,
      alpha: c.alpha ?? 0,
      warmup_target: c.warmup_target ?? null,
      warmup_steps: c.warmup_steps ?? 0,
    }),
  CosineDecayRestarts: (c) =>
    cosineDecayRestarts(
      c.initial_learning_rate,
      c.first_decay_steps,
      c.t_mul ?? 2,
      c.m_mul ?? 1,
      c.alpha ?? 0,
    ),
};

/** Whether an optimizer's `learning_rate` is a schedule object rather than a number. */
export function isScheduleSpec(value: unknown): value is LearningRateScheduleSpec {
  return isObject(value) && "class_name" in value;
}

/** What a schema cannot say about a schedule (its shape already checked), paths under `path`. */
export function learningRateScheduleIssues(spec: LearningRateScheduleSpec, path: string): Issue[] {
  if (spec.class_name !== "PiecewiseConstantDecay") return [];
  // Keras's own rule (length) and what its comparisons assume (increasing), as the callback's schedule.
  const { boundaries, values } = spec.config;
  return scheduleIssues({ name: "piecewise_constant", boundaries, values }).map((issue) => ({
    path: `${path}/config${issue.path}`,
    message: issue.message,
  }));
}

/** The step → rate function a schedule object describes (its shape and issues already checked). */
export function buildLearningRateSchedule(spec: LearningRateScheduleSpec): Schedule {
  return (BUILDERS[spec.class_name] as (config: unknown) => Schedule)(spec.config);
}
