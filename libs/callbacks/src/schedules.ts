/**
 * Named learning-rate schedules with Keras's parameter names and formulas
 * (keras/src/optimizers/schedules/learning_rate_schedule.py). Keras computes them in the dtype of
 * `initial_learning_rate`, float32, one rounding per operation; so do these, with `Math.fround` after every
 * step of Keras's formula. In a `LearningRateScheduler` the schedule's step is the 0-based epoch, not the
 * optimizer's batch counter: the rate changes once per epoch, at epoch begin. No tfjs here, so the API can
 * validate schedules without loading TensorFlow.
 */
import {
  type CosineDecayParams,
  type Issue,
  type NamedSchedule,
  namedSchedules,
  type ScheduleName,
  ScheduleOption,
} from "@plateau/contract";
import Value from "typebox/value";
import { type Expression, evaluateNumber } from "./expression";
import { compileSource } from "./python-function";

const f32 = Math.fround;

/** Maps a 0-based epoch to a learning rate (a float32 value). */
export type Schedule = (epoch: number) => number;

/** Keras's `step / decay_steps` at float32, floored with staircase (ExponentialDecay, InverseTimeDecay). */
export function decayProgress(step: number, decaySteps: number, staircase: boolean): number {
  const p = f32(f32(step) / f32(decaySteps));
  return staircase ? Math.floor(p) : p;
}

/** Keras's ExponentialDecay.__call__, at float32. */
export function exponentialDecay(
  initial: number,
  decaySteps: number,
  decayRate: number,
  staircase: boolean,
): Schedule {
  return (step) => {
    const p = decayProgress(step, decaySteps, staircase);
    return f32(f32(initial) * f32(f32(decayRate) ** p));
  };
}

/** Keras's PiecewiseConstantDecay: the boundary itself still belongs to the interval below it. */
export function piecewiseConstant(boundaries: number[], values: number[]): Schedule {
  return (step) => {
    const index = boundaries.findIndex((boundary) => step <= boundary);
    return f32(values[index === -1 ? values.length - 1 : index]);
  };
}

/** Keras's CosineDecay.__call__ with its `_warmup_function` and `_decay_function`, at float32. */
export function cosineDecay(p: Required<CosineDecayParams>): Schedule {
  const initial = f32(p.initial_learning_rate);
  const decaySteps = f32(p.decay_steps);
  const decay = (step: number, from: number) => {
    const fraction = f32(step / decaySteps);
    const cosine = f32(Math.cos(f32(f32(Math.PI) * fraction)));
    const cosineDecayed = f32(0.5 * f32(1 + cosine));
    const decayed = f32(f32(f32(1 - p.alpha) * cosineDecayed) + f32(p.alpha));
    return f32(from * decayed);
  };
  if (p.warmup_target === null) return (step) => decay(Math.min(f32(step), decaySteps), initial);
  const target = f32(p.warmup_target);
  const warmupSteps = f32(p.warmup_steps);
  return (epoch) => {
    const step = Math.min(f32(epoch), f32(decaySteps + warmupSteps));
    if (step < warmupSteps) return f32(f32(f32(target - initial) * f32(step / warmupSteps)) + initial);
    return decay(f32(step - warmupSteps), target);
  };
}

/** Problems a schema cannot express, as `{path, message}` relative to the schedule object. */
export function scheduleIssues(params: NamedSchedule): Issue[] {
  if (params.name !== "piecewise_constant") return [];
  const issues: Issue[] = [];
  if (params.values.length !== params.boundaries.length + 1) {
    issues.push({
      path: "/values",
      message: `must have one more element than boundaries (${params.boundaries.length + 1}), got ${params.values.length}`,
    });
  }
  params.boundaries.forEach((boundary, i) => {
    if (i > 0 && boundary <= params.boundaries[i - 1]) {
      issues.push({ path: `/boundaries/${i}`, message: "boundaries must be strictly increasing" });
    }
  });
  return issues;
}

/** Builds the schedule; `params` must have passed the schema (defaults may be missing). */
export function buildSchedule(params: NamedSchedule): Schedule {
  const issues = scheduleIssues(params);
  if (issues.length > 0)
    throw new Error(`${params.name}: ${issues.map((i) => `${i.path.slice(1)} ${i.message}`).join("; ")}`);
  switch (params.name) {
    case "exponential_decay":
      return exponentialDecay(
        params.initial_learning_rate,
        params.decay_steps,
        params.decay_rate,
        params.staircase ?? false,
      );
    case "step_decay":
      return exponentialDecay(params.initial_learning_rate, params.epochs_drop, params.drop, true);
    case "piecewise_constant":
      return piecewiseConstant(params.boundaries, params.values);
    case "cosine_decay":
      return cosineDecay({ alpha: 0, warmup_target: null, warmup_steps: 0, ...params });
  }
}

export const SCHEDULE_VARIABLES = ["epoch", "lr"] as const;

/**
 * A schedule written as an expression over epoch and lr, or as a Python function (or its body) as Keras's
 * guide writes it: `def scheduler(epoch, lr)` — Keras calls schedule(epoch, lr), or schedule(epoch) when the
 * function takes one argument.
 */
export function compileScheduleSource(source: string): Expression {
  return compileSource(source, {
    variables: SCHEDULE_VARIABLES,
    parameters: [SCHEDULE_VARIABLES, ["epoch"]],
    subject: "a schedule",
  });
}

type SchemaCheck = (schema: (typeof namedSchedules)[ScheduleName], value: unknown) => Issue[];

/**
 * Everything wrong with a `schedule` option, paths relative to it; `schemaIssues` is the library's schema
 * validator (passed in so this module does not depend on the registry that lists it).
 */
export function scheduleOptionIssues(schedule: unknown, schemaIssues: SchemaCheck): Issue[] {
  // A schedule of the wrong shape is already reported by the schema.
  if (!Value.Check(ScheduleOption, schedule)) return [];
  if (typeof schedule === "string") {
    try {
      compileScheduleSource(schedule);
      return [];
    } catch (error) {
      return [{ path: "", message: (error as Error).message }];
    }
  }
  const name = (schedule as { name: string }).name;
  if (!Object.hasOwn(namedSchedules, name)) {
    return [
      {
        path: "/name",
        message: `unknown schedule '${name}'; known: ${Object.keys(namedSchedules).join(", ")}`,
      },
    ];
  }
  const issues = schemaIssues(namedSchedules[name as ScheduleName], schedule);
  return issues.length > 0 ? issues : scheduleIssues(schedule as NamedSchedule);
}

/** `(epoch, lr) → new lr`; throws an `ExpressionError` (or schedule error) for an invalid schedule. */
export function compileSchedule(schedule: string | NamedSchedule): (epoch: number, lr: number) => number {
  if (typeof schedule === "string") {
    const expression = compileScheduleSource(schedule);
    return (epoch, lr) => evaluateNumber(expression, { epoch, lr });
  }
  const named = buildSchedule(schedule);
  return (epoch) => named(epoch);
}
