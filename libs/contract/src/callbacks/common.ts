import Type from "typebox";

/** Option schemas several callbacks share, with Keras's wording and defaults. */

export const ModeSchema = Type.Union([Type.Literal("auto"), Type.Literal("min"), Type.Literal("max")], {
  default: "auto",
  description:
    "Whether the monitored quantity should go down (min) or up (max); auto infers it from the name.",
});
/**
 * Upper bounds of counts given in epochs or batches. Nothing loops over them, but they are stored, compared
 * and quoted in messages, so they stay in a sane range.
 */
export const MAX_EPOCH_COUNT = 1_000_000;
export const MAX_BATCH_COUNT = 1_000_000_000;
/** Epochs (patience, cooldown, …): an integer from 0 to MAX_EPOCH_COUNT. */
export const epochCount = (options: { default: number; minimum?: number; description?: string }) =>
  Type.Integer({ minimum: 0, maximum: MAX_EPOCH_COUNT, ...options });

export const monitor = (fallback: string) =>
  Type.String({
    minLength: 1,
    maxLength: 100,
    default: fallback,
    description: "Log key to watch, e.g. val_loss or val_acc.",
  });
export const verbose = Type.Integer({
  minimum: 0,
  default: 0,
  description: "Kept for Keras compatibility; decisions are always reported as events.",
});
export const NullableNumber = (description: string) =>
  Type.Union([Type.Number(), Type.Null()], { default: null, description });
export const strict = { additionalProperties: false } as const;
