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

/** The most actions one rule may run each time it fires, and the longest `{"log": …}` message. */
export const MAX_RULE_ACTIONS = 16;
export const MAX_LOG_MESSAGE_LENGTH = 500;

const action = Type.Union([Type.String({ maxLength: 100 }), Type.Object({})]);

export const RuleOptions = Type.Object(
  {
    on: Type.Optional(
      Type.String({
        maxLength: 100,
        default: "epoch_end",
        description: `When to check: ${RULE_HOOKS.join(", ")}.`,
      }),
    ),
    if: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1000,
        description: "Condition over epoch, batch, lr, fired and the logged metrics; omitted means always.",
      }),
    ),
    then: Type.Union([action, Type.Array(action, { maxItems: MAX_RULE_ACTIONS })], {
      description: `An action or a list of at most ${MAX_RULE_ACTIONS} actions: ${ACTION_DESCRIPTION}.`,
    }),
    filepath: Type.Optional(
      Type.String({
        maxLength: 200,
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
