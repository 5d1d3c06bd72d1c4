import Type, { type Static } from "typebox";
import { epochCount, MAX_EPOCH_COUNT, strict } from "./common";

/**
 * Keras `LearningRateScheduler` options. The schedule is data: an expression over `epoch` and `lr`, or a
 * named schedule with the parameters of keras/src/optimizers/schedules/learning_rate_schedule.py.
 */
const learningRate = Type.Number({
  exclusiveMinimum: 0,
  description: "The learning rate at step (epoch) 0.",
});
const decaySteps = Type.Number({
  exclusiveMinimum: 0,
  maximum: MAX_EPOCH_COUNT,
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

/** The most pieces a piecewise_constant schedule may have (each epoch searches its boundaries). */
export const MAX_PIECES = 100;

export const PiecewiseConstant = Type.Object(
  {
    name: Type.Literal("piecewise_constant"),
    boundaries: Type.Array(Type.Number(), {
      minItems: 1,
      maxItems: MAX_PIECES - 1,
      description: "Strictly increasing epochs.",
    }),
    values: Type.Array(Type.Number({ exclusiveMinimum: 0 }), {
      minItems: 2,
      maxItems: MAX_PIECES,
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
    warmup_steps: Type.Optional(epochCount({ default: 0 })),
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
    epochs_drop: Type.Integer({ minimum: 1, maximum: MAX_EPOCH_COUNT }),
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

/** The `schedule` option: an expression over `epoch` and `lr`, or a named schedule. */
// Typed as the schedules it can be; the schema stays open on the object so that an unknown name gets
// its own message ("unknown schedule …; known: …") from validation.
export const ScheduleOption = Type.Unsafe<string | NamedSchedule>(
  Type.Union(
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
  ),
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
  strict,
);
export type LearningRateSchedulerOptions = Static<typeof LearningRateSchedulerOptions>;
