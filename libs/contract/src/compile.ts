import Type, { type Static, type TSchema } from "typebox";
import {
  LOSS_CLASS_DEFAULTS,
  LOSS_CLASS_NAMES,
  LOSS_CLASS_ONLY_KEYS,
  LOSS_CONFIG_ONLY_VALUE,
  LOSS_NAMES,
  type LossClassName,
  type LossName,
  METRIC_NAMES,
  OPTIMIZER_DEFAULTS,
  OPTIMIZER_NAMES,
  type OptimizerName,
} from "./keras-names";

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

function optimizerSchema(name: OptimizerName): TSchema {
  const params = paramSchemas(OPTIMIZER_DEFAULTS[name]);
  return Type.Object({ name: Type.Literal(name), ...params }, { ...strict, title: name });
}

export const OptimizerSpecSchema = Type.Unsafe<OptimizerName | OptimizerSpec>(
  Type.Union([names(OPTIMIZER_NAMES), ...OPTIMIZER_NAMES.map(optimizerSchema)], {
    description:
      'An optimizer by name with Keras defaults ("adam"), or {name, ...Keras parameters}. "momentum" is SGD with momentum 0.9 unless given.',
  }),
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

export type OptimizerSpec = { name: OptimizerName } & Record<string, number | boolean | string>;
export type LossSpecObject = {
  class_name: LossClassName;
  config?: Record<string, number | boolean | string | null>;
  module?: "keras.losses";
  registered_name?: null;
};
export type CompileSpec = Static<typeof CompileSpecSchema>;
