// biome-ignore-all lint/suspicious/noThenProperty: `then` is the Rule spec's documented field; its value is never a function, so these objects are not thenables.
import Type, { type Static } from "typebox";
import { strict } from "./common";

// The `Rule` callback's options: a custom callback written as data, `{"on", "if", "then"}`.

/**
 * tfjs's `fit` calls these; its `evaluate` and `predict` take no callbacks and its validation pass inside
 * `fit` calls none, so Keras's test_* and predict_* hooks would never fire.
 */
export const RULE_HOOKS = [
  "train_begin",
  "epoch_begin",
  "epoch_end",
  "train_batch_begin",
  "train_batch_end",
  "train_end",
] as const;
export type RuleHook = (typeof RULE_HOOKS)[number];

export const ACTION_DESCRIPTION =
  '"stop_training", "checkpoint", "log", {"log": "<message>"} or {"set_learning_rate": "<expression>"}';

export const RuleOptions = Type.Object(
  {
    on: Type.Optional(
      Type.String({ default: "epoch_end", description: `When to check: ${RULE_HOOKS.join(", ")}.` }),
    ),
    if: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1000,
        description: "Condition over epoch, batch, lr, fired and the logged metrics; omitted means always.",
      }),
    ),
    then: Type.Union(
      [Type.String(), Type.Object({}), Type.Array(Type.Union([Type.String(), Type.Object({})]))],
      {
        description: `An action or a list of actions: ${ACTION_DESCRIPTION}.`,
      },
    ),
    filepath: Type.Optional(
      Type.String({
        default: "rule-{epoch:04d}",
        description: "Checkpoint template, as ModelCheckpoint's filepath.",
      }),
    ),
    verbose: Type.Optional(
      Type.Integer({ minimum: 0, default: 0, description: "Kept for symmetry; actions are events." }),
    ),
  },
  strict,
);
export type RuleConfig = Static<typeof RuleOptions>;
