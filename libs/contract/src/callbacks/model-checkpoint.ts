import Type, { type Static } from "typebox";
import { MAX_BATCH_COUNT, ModeSchema, monitor, NullableNumber, strict, verbose } from "./common";

/**
 * The longest checkpoint name: a rendered filepath names one S3 key segment, which libs/storage/src/keys.ts
 * bounds to 128 characters. Validation refuses a template whose longest rendering exceeds it.
 */
export const CHECKPOINT_NAME_MAX_LENGTH = 128;

/** Keras `ModelCheckpoint` options, Keras's names and defaults. */
// Rendered checkpoint paths become object keys: letters, digits and template punctuation only, no `..`.
const FILEPATH = "^(?!/)(?!.*\\.\\.)[A-Za-z0-9_.\\-{}:+%,=/ ]+$";

export const ModelCheckpointOptions = Type.Object(
  {
    filepath: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: FILEPATH,
        default: "epoch-{epoch:04d}",
        description:
          "Python format template; {epoch} and {batch} are 1-based, other fields come from the logs.",
      }),
    ),
    monitor: Type.Optional(monitor("val_loss")),
    verbose: Type.Optional(verbose),
    save_best_only: Type.Optional(Type.Boolean({ default: false })),
    save_weights_only: Type.Optional(Type.Boolean({ default: false })),
    mode: Type.Optional(ModeSchema),
    save_freq: Type.Optional(
      Type.Union([Type.Literal("epoch"), Type.Integer({ minimum: 1, maximum: MAX_BATCH_COUNT })], {
        default: "epoch",
        description: '"epoch" or a number of batches, counted across epochs.',
      }),
    ),
    initial_value_threshold: Type.Optional(NullableNumber("Initial best value for save_best_only.")),
  },
  strict,
);

export type ModelCheckpointOptions = Static<typeof ModelCheckpointOptions>;
