import Type, { type Static } from "typebox";
import { epochCount, ModeSchema, monitor, NullableNumber, strict, verbose } from "./common";

/** Keras `EarlyStopping` options, Keras's names and defaults. */
export const EarlyStoppingOptions = Type.Object(
  {
    monitor: Type.Optional(monitor("val_loss")),
    min_delta: Type.Optional(Type.Number({ default: 0 })),
    patience: Type.Optional(epochCount({ default: 0 })),
    verbose: Type.Optional(verbose),
    mode: Type.Optional(ModeSchema),
    baseline: Type.Optional(
      NullableNumber("Stop unless the monitored value beats this within `patience` epochs."),
    ),
    restore_best_weights: Type.Optional(Type.Boolean({ default: false })),
    start_from_epoch: Type.Optional(epochCount({ default: 0 })),
  },
  strict,
);

export type EarlyStoppingOptions = Static<typeof EarlyStoppingOptions>;
