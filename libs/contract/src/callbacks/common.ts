import Type from "typebox";

/** Option schemas several callbacks share, with Keras's wording and defaults. */

export const ModeSchema = Type.Union([Type.Literal("auto"), Type.Literal("min"), Type.Literal("max")], {
  default: "auto",
  description:
    "Whether the monitored quantity should go down (min) or up (max); auto infers it from the name.",
});
export const monitor = (fallback: string) =>
  Type.String({
    minLength: 1,
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
