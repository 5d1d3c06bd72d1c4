import Type, { type Static, type TSchema } from "typebox";
import {
  CLIP_ARGS,
  LOSS_CLASS_DEFAULTS,
  LOSS_CLASS_NAMES,
  LOSS_CLASS_ONLY_KEYS,
  LOSS_CONFIG_ONLY_VALUE,
  LOSS_NAMES,
  type LossClassName,
  type LossName,
  METRIC_NAMES,
  OPTIMIZER_CLASSES,
  OPTIMIZER_COMMON_ARGS,
  OPTIMIZER_DEFAULTS,
  OPTIMIZER_NAMES,
  OPTIMIZER_REFUSED_ARGS,
  type OptimizerClassName,
  type OptimizerName,
} from "./keras-names";
import { LearningRateScheduleSchema, type LearningRateScheduleSpec } from "./schedules";

const strict = { additionalProperties: false } as const;
const names = (values: readonly string[]) => Type.Enum([...values]);

/** The largest finite float32: tfjs holds optimizer parameters as float32, so anything larger is Infinity. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Optional Keras parameters, each typed (and described) by its default. */
function paramSchemas(defaults: Readonly<Record<string, number | boolean>>): Record<string, TSchema> {
  return Object.fromEntries(
    Object.entries(defaults).map(([key, value]) => [
      key,
      Type.Optional(
        typeof value === "boolean"
          ? Type.Boolean({ description: `Keras default: ${value}.` })
          : Type.Number({ minimum: 0, maximum: FLOAT32_MAX, description: `Keras default: ${value}.` }),
      ),
    ]),
  );
}

/** Keras's base-optimizer arguments: a number ≥ 0, or null (Keras's default) for off. */
const commonArgs = Object.fromEntries(
  OPTIMIZER_COMMON_ARGS.map((key) => [
    key,
    Type.Optional(
      Type.Union([Type.Number({ minimum: 0, maximum: FLOAT32_MAX }), Type.Null()], {
        description: `Keras default: null.${key === "weight_decay" ? "" : ` Only one of ${CLIP_ARGS.join(", ")}.`}`,
      }),
    ),
  ]),
);

/** Arguments accepted only at their Keras default (see OPTIMIZER_REFUSED_ARGS for why). */
const refusedArgs = Object.fromEntries(
  Object.entries(OPTIMIZER_REFUSED_ARGS).map(([key, { only, why }]) => [
    key,
    Type.Optional(
      only === null
        ? Type.Null({ description: `Only null: ${why}.` })
        : Type.Literal(only, { description: `Only ${only}: ${why}.` }),
    ),
  ]),
);

/** An optimizer's Keras parameters (its own, the common ones, learning_rate), as {name, ...} or a config. */
function optimizerParams(name: OptimizerName): Record<string, TSchema> {
  const params = paramSchemas(OPTIMIZER_DEFAULTS[name]);
  return {
    ...commonArgs,
    ...refusedArgs,
    ...params,
    learning_rate: Type.Optional(
      Type.Union(
        [
          Type.Number({
            minimum: 0,
            maximum: FLOAT32_MAX,
            description: `Keras default: ${OPTIMIZER_DEFAULTS[name].learning_rate}.`,
          }),
          LearningRateScheduleSchema,
        ],
        { description: "A number, or a Keras learning-rate schedule object stepped every batch." },
      ),
    ),
  };
}

function optimizerSchema(name: OptimizerName): TSchema {
  return Type.Object({ name: Type.Literal(name), ...optimizerParams(name) }, { ...strict, title: name });
}

/** An optimizer as `keras.optimizers.serialize` writes it; `config.name` is Keras's instance name. */
function optimizerClassSchema(className: OptimizerClassName): TSchema {
  return Type.Object(
    {
      class_name: Type.Literal(className),
      config: Type.Optional(
        Type.Object(
          {
            name: Type.Optional(Type.String({ maxLength: 200 })),
            ...optimizerParams(OPTIMIZER_CLASSES[className]),
          },
          strict,
        ),
      ),
      module: Type.Optional(Type.Literal("keras.optimizers")),
      registered_name: Type.Optional(Type.Null()),
    },
    { ...strict, title: className },
  );
}

export const OptimizerSpecSchema = Type.Unsafe<OptimizerName | OptimizerSpec | OptimizerClassSpec>(
  Type.Union(
    [
      names(OPTIMIZER_NAMES),
      ...OPTIMIZER_NAMES.map(optimizerSchema),
      ...(Object.keys(OPTIMIZER_CLASSES) as OptimizerClassName[]).map(optimizerClassSchema),
    ],
    {
      description:
        'An optimizer by name with Keras defaults ("adam"), or {name, ...Keras parameters}: the optimizer\'s own, Keras\'s weight_decay/clipnorm/clipvalue/global_clipnorm, and learning_rate as a number or a schedule object; or as keras.optimizers.serialize writes it, {"class_name": "AdamW", "config": {...}}. "momentum" is SGD with momentum 0.9 unless given.',
    },
  ),
);

function lossClassSchema(name: LossClassName): TSchema {
  const params = paramSchemas(LOSS_CLASS_DEFAULTS[name]);
  const neutral = Object.fromEntries(
    LOSS_CLASS_ONLY_KEYS[name].map((key) => [
      key,
      Type.Optional(
        Type.Union(
          LOSS_CONFIG_ONLY_VALUE[key].map((value) => (value === null ? Type.Null() : Type.Literal(value))),
        ),
      ),
    ]),
  );
  return Type.Object(
    {
      class_name: Type.Literal(name),
      config: Type.Optional(
        Type.Object({ name: Type.Optional(Type.String()), ...neutral, ...params }, strict),
      ),
      module: Type.Optional(Type.Literal("keras.losses")),
      registered_name: Type.Optional(Type.Null()),
    },
    { ...strict, title: name },
  );
}

export const LossSpecSchema = Type.Unsafe<LossName | LossSpecObject>(
  Type.Union([names(LOSS_NAMES), ...LOSS_CLASS_NAMES.map(lossClassSchema)], {
    description:
      'A Keras loss by name ("huber"), or as Keras serializes a loss object: {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": true}}.',
  }),
);

export const CompileSpecSchema = Type.Object(
  {
    optimizer: OptimizerSpecSchema,
    loss: LossSpecSchema,
    metrics: Type.Optional(
      Type.Array(names(METRIC_NAMES), {
        uniqueItems: true,
        description:
          'Keras metric names. tfjs logs accuracy as "acc" (and "val_acc"); precision, recall, binary_accuracy and top_k_categorical_accuracy are logged under their Keras names.',
      }),
    ),
  },
  { ...strict, description: "Keras model.compile arguments." },
);

export type OptimizerClassSpec = {
  class_name: OptimizerClassName;
  config?: Record<string, number | boolean | string | null | LearningRateScheduleSpec>;
  module?: "keras.optimizers";
  registered_name?: null;
};
export type OptimizerSpec = {
  name: OptimizerName;
  learning_rate?: number | LearningRateScheduleSpec;
} & Record<string, number | boolean | string | null | LearningRateScheduleSpec>;
export type LossSpecObject = {
  class_name: LossClassName;
  config?: Record<string, number | boolean | string | null>;
  module?: "keras.losses";
  registered_name?: null;
};
export type CompileSpec = Static<typeof CompileSpecSchema>;
