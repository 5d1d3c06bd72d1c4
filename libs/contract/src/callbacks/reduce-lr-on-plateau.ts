import Type, { type Static } from "typebox";
import { epochCount, ModeSchema, monitor, strict, verbose } from "./common";

/** Keras `ReduceLROnPlateau` options, Keras's names and defaults. */
export const ReduceLROnPlateauOptions = Type.Object(
  {
    monitor: Type.Optional(monitor("val_loss")),
    factor: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.1 })),
    patience: Type.Optional(epochCount({ default: 10 })),
    verbose: Type.Optional(verbose),
    mode: Type.Optional(ModeSchema),
    min_delta: Type.Optional(Type.Number({ default: 1e-4 })),
    cooldown: Type.Optional(epochCount({ default: 0 })),
    min_lr: Type.Optional(Type.Number({ minimum: 0, default: 0 })),
  },
  strict,
);

export type ReduceLROnPlateauOptions = Static<typeof ReduceLROnPlateauOptions>;
