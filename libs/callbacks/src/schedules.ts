/**
 * Named learning-rate schedules with Keras's parameter names and formulas
 * (keras/src/optimizers/schedules/learning_rate_schedule.py). Keras computes them in the dtype of
 * `initial_learning_rate`, float32, one rounding per operation; so do these, with `Math.fround` after every
 * step of Keras's formula. In a `LearningRateScheduler` the schedule's step is the 0-based epoch, not the
 * optimizer's batch counter: the rate changes once per epoch, at epoch begin. No tfjs here, so the API can
 * validate schedules without loading TensorFlow.
 */
import Type, { type Static } from "typebox";
import Value from "typebox/value";
import { compileExpression, evaluateNumber } from "./expression";

const f32 = Math.fround;

const learningRate = Type.Number({
  exclusiveMinimum: 0,
  description: "The learning rate at step (epoch) 0.",
});
const decaySteps = Type.Number({
  exclusiveMinimum: 0,
  description: "Number of steps (epochs) to decay over.",
});

export const ExponentialDecay = Type.Object(
  {
    name: Type.Literal("exponential_decay"),
    initial_learning_rate: learningRate,
    decay_steps: decaySteps,
    decay_rate: Type.Number({ exclusiveMinimum: 0 }),
    staircase: Type.Optional(
      Type.Boolean({ default: false, description: "Decay at whole multiples of decay_steps." }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "initial_learning_rate * decay_rate ^ (epoch / decay_steps), floored exponent with staircase.",
  },
);

export const PiecewiseConstant = Type.Object(
  {
    name: Type.Literal("piecewise_constant"),
    boundaries: Type.Array(Type.Number(), { minItems: 1, description: "Strictly increasing epochs." }),
    values: Type.Array(Type.Number({ exclusiveMinimum: 0 }), {
      minItems: 2,
      description: "One more than boundaries.",
    }),
  },
  {
    additionalProperties: false,
    description:
      "values[0] while epoch <= boundaries[0], values[i] while boundaries[i-1] < epoch <= boundaries[i].",
  },
);

export const CosineDecay = Type.Object(
  {
    name: Type.Literal("cosine_decay"),
    initial_learning_rate: Type.Number({
      minimum: 0,
      description: "Start of the warmup, or of the decay without one.",
    }),
    decay_steps: decaySteps,
    alpha: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, default: 0, description: "Final rate as a fraction." }),
    ),
    warmup_target: Type.Optional(
      Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()], {
        default: null,
        description: "Rate reached after a linear warmup; null skips the warmup.",
      }),
    ),
    warmup_steps: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  {
    additionalProperties: false,
    description: "Optional linear warmup, then a half cosine down to alpha × the peak.",
  },
);

export const StepDecay = Type.Object(
  {
    name: Type.Literal("step_decay"),
    initial_learning_rate: learningRate,
    drop: Type.Number({ exclusiveMinimum: 0, description: "Factor applied every epochs_drop epochs." }),
    epochs_drop: Type.Integer({ minimum: 1 }),
  },
  {
    additionalProperties: false,
    description:
      "initial_learning_rate * drop ^ floor(epoch / epochs_drop): exponential_decay with staircase.",
  },
);

export const namedSchedules = {
  exponential_decay: ExponentialDecay,
  piecewise_constant: PiecewiseConstant,
  cosine_decay: CosineDecay,
  step_decay: StepDecay,
};
export type ScheduleName = keyof typeof namedSchedules;

export type ExponentialDecayParams = Static<typeof ExponentialDecay>;
export type PiecewiseConstantParams = Static<typeof PiecewiseConstant>;
export type CosineDecayParams = Static<typeof CosineDecay>;
export type StepDecayParams = Static<typeof StepDecay>;
export type NamedSchedule =
  | ExponentialDecayParams
  | PiecewiseConstantParams
  | CosineDecayParams
  | StepDecayParams;

/** Maps a 0-based epoch to a learning rate (a float32 value). */
export type Schedule = (epoch: number) => number;

/** Keras's ExponentialDecay.__call__, at float32. */
function exponentialDecay(
  initial: number,
  decaySteps: number,
  decayRate: number,
  staircase: boolean,
): Schedule {
  return (step) => {
    let p = f32(f32(step) / f32(decaySteps));
    if (staircase) p = Math.floor(p);
    return f32(f32(initial) * f32(f32(decayRate) ** p));
  };
}

/** Keras's PiecewiseConstantDecay: the boundary itself still belongs to the interval below it. */
function piecewiseConstant(boundaries: number[], values: number[]): Schedule {
  return (step) => {
    const index = boundaries.findIndex((boundary) => step <= boundary);
    return f32(values[index === -1 ? values.length - 1 : index]);
  };
}

/** Keras's CosineDecay.__call__ with its `_warmup_function` and `_decay_function`, at float32. */
function cosineDecay(p: Required<CosineDecayParams>): Schedule {
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
export function scheduleIssues(params: NamedSchedule): { path: string; message: string }[] {
  if (params.name !== "piecewise_constant") return [];
  const issues: { path: string; message: string }[] = [];
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

/** The `schedule` option: an expression over `epoch` and `lr`, or a named schedule. */
export const ScheduleOption = Type.Union(
  [
    Type.String({
      minLength: 1,
      maxLength: 1000,
      description: "Expression over epoch (0-based) and lr, e.g. `epoch < 10 ? lr : lr * exp(-0.1)`.",
    }),
    Type.Object(
      { name: Type.String({ description: `One of: ${Object.keys(namedSchedules).join(", ")}.` }) },
      { additionalProperties: true, description: "A named schedule with Keras's parameter names." },
    ),
  ],
  { description: "Maps (epoch, lr) to the learning rate for that epoch, applied at epoch begin." },
);

export const LearningRateSchedulerOptions = Type.Object(
  {
    schedule: ScheduleOption,
    verbose: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 0,
        description: "Kept for Keras compatibility; changes are reported as events.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type LearningRateSchedulerConfig = Static<typeof LearningRateSchedulerOptions>;

export const SCHEDULE_VARIABLES = ["epoch", "lr"] as const;

interface Issue {
  path: string;
  message: string;
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
      compileExpression(schedule, { variables: SCHEDULE_VARIABLES });
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
    const expression = compileExpression(schedule, { variables: SCHEDULE_VARIABLES });
    return (epoch, lr) => evaluateNumber(expression, { epoch, lr });
  }
  const named = buildSchedule(schedule);
  return (epoch) => named(epoch);
}
