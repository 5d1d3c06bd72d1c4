import Type, { type Static, type TSchema } from "typebox";
import { MAX_PIECES } from "./callbacks/learning-rate-scheduler";

/**
 * Keras learning-rate schedules as an optimizer's `learning_rate`, in the form
 * `keras.optimizers.schedules.serialize` writes ({"class_name", "config", "module", "registered_name"}),
 * with Keras's parameter names and defaults (keras/src/optimizers/schedules/learning_rate_schedule.py).
 * The schedule is called with the optimizer's step count, so the rate changes every batch, as in Keras.
 */

/** The largest finite float32 (Keras computes schedules in the dtype of initial_learning_rate). */
const F32_MAX = 3.4028234663852886e38;
const strict = { additionalProperties: false } as const;

const rate = (description: string) => Type.Number({ minimum: 0, maximum: F32_MAX, description });
const initial = rate("The rate at step 0 (or where the warmup starts).");
const steps = (description: string) => Type.Number({ exclusiveMinimum: 0, maximum: F32_MAX, description });
const opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const name = opt(Type.String({ maxLength: 200, description: "Keras's name scope; changes nothing." }));

/** ExponentialDecay's and InverseTimeDecay's parameters (the same in Keras). */
const decayParams = {
  initial_learning_rate: initial,
  decay_steps: steps("Steps per decay_rate."),
  decay_rate: Type.Number({ minimum: 0, maximum: F32_MAX }),
  staircase: opt(Type.Boolean({ description: "Keras default: false. Floors step / decay_steps." })),
  name,
};

export const SCHEDULE_CONFIGS = {
  ExponentialDecay: Type.Object(decayParams, {
    ...strict,
    description: "initial_learning_rate * decay_rate ^ (step / decay_steps).",
  }),
  PiecewiseConstantDecay: Type.Object(
    {
      boundaries: Type.Array(Type.Number({ minimum: 0, maximum: F32_MAX }), {
        minItems: 1,
        maxItems: MAX_PIECES - 1,
        description: "Increasing steps.",
      }),
      values: Type.Array(rate("A rate."), {
        minItems: 2,
        maxItems: MAX_PIECES,
        description: "One more than boundaries.",
      }),
      name,
    },
    {
      ...strict,
      description: "values[0] while step <= boundaries[0], values[i] up to boundaries[i], then the last.",
    },
  ),
  PolynomialDecay: Type.Object(
    {
      initial_learning_rate: initial,
      decay_steps: steps("Steps to reach end_learning_rate."),
      end_learning_rate: opt(rate("Keras default: 0.0001.")),
      power: opt(Type.Number({ minimum: 0, maximum: F32_MAX, description: "Keras default: 1." })),
      cycle: opt(Type.Boolean({ description: "Keras default: false. Restarts past decay_steps." })),
      name,
    },
    {
      ...strict,
      description: "(initial - end) * (1 - step / decay_steps) ^ power + end_learning_rate.",
    },
  ),
  InverseTimeDecay: Type.Object(decayParams, {
    ...strict,
    description: "initial_learning_rate / (1 + decay_rate * step / decay_steps).",
  }),
  CosineDecay: Type.Object(
    {
      initial_learning_rate: initial,
      decay_steps: steps("Steps of the cosine decay (after the warmup)."),
      alpha: opt(Type.Number({ minimum: 0, maximum: 1, description: "Keras default: 0. Final fraction." })),
      warmup_target: opt(
        Type.Union([rate("The rate reached after the warmup."), Type.Null()], {
          description: "Keras default: null (no warmup).",
        }),
      ),
      warmup_steps: opt(Type.Number({ minimum: 0, maximum: F32_MAX, description: "Keras default: 0." })),
      name,
    },
    {
      ...strict,
      description: "Optional linear warmup to warmup_target, then a half cosine down to alpha × the peak.",
    },
  ),
  CosineDecayRestarts: Type.Object(
    {
      initial_learning_rate: initial,
      first_decay_steps: steps("Steps of the first period."),
      t_mul: opt(
        Type.Number({
          exclusiveMinimum: 0,
          maximum: F32_MAX,
          description: "Keras default: 2. Period growth.",
        }),
      ),
      m_mul: opt(
        Type.Number({ minimum: 0, maximum: 1, description: "Keras default: 1. Peak factor per restart." }),
      ),
      alpha: opt(Type.Number({ minimum: 0, maximum: 1, description: "Keras default: 0." })),
      name,
    },
    { ...strict, description: "Cosine decay with warm restarts (SGDR)." },
  ),
};
export type ScheduleClassName = keyof typeof SCHEDULE_CONFIGS;
export const SCHEDULE_CLASS_NAMES = Object.keys(SCHEDULE_CONFIGS) as ScheduleClassName[];

function scheduleSchema(className: ScheduleClassName): TSchema {
  return Type.Object(
    {
      class_name: Type.Literal(className),
      config: SCHEDULE_CONFIGS[className],
      module: opt(Type.Literal("keras.optimizers.schedules")),
      registered_name: opt(Type.Null()),
    },
    { ...strict, title: className },
  );
}

export type LearningRateScheduleSpec = {
  [K in ScheduleClassName]: {
    class_name: K;
    config: Static<(typeof SCHEDULE_CONFIGS)[K]>;
    module?: "keras.optimizers.schedules";
    registered_name?: null;
  };
}[ScheduleClassName];

export const LearningRateScheduleSchema = Type.Unsafe<LearningRateScheduleSpec>(
  Type.Union(SCHEDULE_CLASS_NAMES.map(scheduleSchema), {
    description:
      'A Keras learning-rate schedule as keras.optimizers.schedules.serialize writes it: {"class_name": "CosineDecay", "config": {"initial_learning_rate": 0.001, "decay_steps": 1000}}. Called with the optimizer\'s step, so the rate changes every batch.',
  }),
);
