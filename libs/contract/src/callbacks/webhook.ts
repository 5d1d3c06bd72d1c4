import Type, { type Static } from "typebox";
import { strict } from "./common";

// The `Webhook` callback: a Keras custom callback whose methods are an HTTP endpoint of the user's.

/** Keras's hooks that tfjs's `fit` calls, in the order of a run. */
export const WEBHOOK_HOOKS = [
  "on_train_begin",
  "on_epoch_begin",
  "on_train_batch_begin",
  "on_train_batch_end",
  "on_epoch_end",
  "on_train_end",
] as const;
export type WebhookHook = (typeof WEBHOOK_HOOKS)[number];
/** Called once per batch: fire-and-forget, every `every_n_batches` batches. The others are awaited. */
export const WEBHOOK_BATCH_HOOKS: readonly WebhookHook[] = ["on_train_batch_begin", "on_train_batch_end"];

/**
 * Keras's other 8 hooks, refused with the reason: Keras calls on_test_* during fit's validation pass, but
 * tfjs's fit validates in one pass that calls no callback (tfjs-layers' `testLoop`), and a job never runs
 * `evaluate` or `predict`.
 */
export const WEBHOOK_UNFIRED_HOOKS: Readonly<Record<string, string>> = {
  on_test_begin: "tfjs's fit runs validation without calling callbacks, so on_test_begin never fires",
  on_test_end: "tfjs's fit runs validation without calling callbacks, so on_test_end never fires",
  on_test_batch_begin:
    "tfjs's fit runs validation without calling callbacks, so on_test_batch_begin never fires",
  on_test_batch_end: "tfjs's fit runs validation without calling callbacks, so on_test_batch_end never fires",
  on_predict_begin: "a job never predicts, so on_predict_begin never fires",
  on_predict_end: "a job never predicts, so on_predict_end never fires",
  on_predict_batch_begin: "a job never predicts, so on_predict_batch_begin never fires",
  on_predict_batch_end: "a job never predicts, so on_predict_batch_end never fires",
};

/** Limits of the options, so every request and every stored spec stays small. */
export const WEBHOOK_LIMITS = {
  urlLength: 2048,
  secretMinLength: 16,
  secretMaxLength: 256,
  timeoutMs: { min: 100, max: 30_000 },
  maxRetries: 5,
  everyNBatches: 1_000_000,
  /** A reply body beyond this is a failed delivery. */
  replyBytes: 65_536,
} as const;

/** Request headers of every delivery. */
export const WEBHOOK_HEADERS = {
  /** Unix time in seconds when this attempt was signed. */
  timestamp: "Plateau-Timestamp",
  /** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>`. */
  signature: "Plateau-Signature",
  /** One id per delivery, the same on each retry of it: receivers drop repeats. */
  delivery: "Plateau-Delivery",
} as const;
/** How old a delivery's timestamp may be, in seconds, before a receiver refuses it as a replay. */
export const WEBHOOK_REPLAY_WINDOW_SECONDS = 300;

/** What the job spec shows in place of a webhook's secret. */
export const REDACTED_SECRET = "[redacted]";

export const WebhookOptions = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: WEBHOOK_LIMITS.urlLength,
      description:
        "Endpoint the worker POSTs to: https (http only where the service allows it), a host the service's WEBHOOK_ALLOWED_HOSTS lists, no credentials.",
    }),
    hooks: Type.Optional(
      Type.Array(Type.String({ maxLength: 100 }), {
        minItems: 1,
        maxItems: WEBHOOK_HOOKS.length,
        uniqueItems: true,
        default: ["on_epoch_end"],
        description: `Keras hooks that call the endpoint: ${WEBHOOK_HOOKS.join(", ")}.`,
      }),
    ),
    every_n_batches: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: WEBHOOK_LIMITS.everyNBatches,
        default: 1,
        description: "Batch hooks are called for the batches whose index in the epoch is a multiple of this.",
      }),
    ),
    secret: Type.String({
      minLength: WEBHOOK_LIMITS.secretMinLength,
      maxLength: WEBHOOK_LIMITS.secretMaxLength,
      description: `Key of the HMAC-SHA256 signature in ${WEBHOOK_HEADERS.signature}; shown as "${REDACTED_SECRET}" once submitted.`,
    }),
    timeout_ms: Type.Optional(
      Type.Integer({
        minimum: WEBHOOK_LIMITS.timeoutMs.min,
        maximum: WEBHOOK_LIMITS.timeoutMs.max,
        default: 5000,
        description:
          "Most time one call takes, retries and their waits included; then training goes on without it.",
      }),
    ),
    max_retries: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: WEBHOOK_LIMITS.maxRetries,
        default: 2,
        description: "Retries after a network error or a 5xx answer, within timeout_ms.",
      }),
    ),
    on_failure: Type.Optional(
      Type.Union([Type.Literal("warn"), Type.Literal("fail")], {
        default: "warn",
        description:
          "A call that fails (after retries) or a reply that is not a valid one: warn records a webhook_failed event and training goes on; fail fails the job.",
      }),
    ),
  },
  strict,
);
export type WebhookOptions = Static<typeof WebhookOptions>;

/** What a hook's endpoint may answer (any 2xx; an empty body steers nothing). */
export const WebhookReply = Type.Object(
  {
    stop_training: Type.Optional(
      Type.Boolean({ description: "true: training stops after the current step, as model.stop_training." }),
    ),
    learning_rate: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: "The learning rate from the next step on." }),
    ),
  },
  { ...strict, title: "WebhookReply" },
);
export type WebhookReply = Static<typeof WebhookReply>;

/** The JSON body of every delivery. */
export const WebhookPayload = Type.Object(
  {
    job_id: Type.String(),
    attempt: Type.Integer({
      minimum: 1,
      description: "The job's attempt (a job moved to another worker runs again).",
    }),
    hook: Type.Enum([...WEBHOOK_HOOKS]),
    epoch: Type.Integer({
      description:
        "0-based epoch in progress or just ended (on_train_begin: the first to run; on_train_end: the last).",
    }),
    batch: Type.Union([Type.Integer(), Type.Null()], {
      description: "0-based batch in the epoch for batch hooks.",
    }),
    logs: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), {
      description:
        "on_epoch_end: the epoch's logs; on_train_batch_end: the batch's; on_train_end: the last epoch's; otherwise {}. NaN and infinities are null.",
    }),
    learning_rate: Type.Number(),
  },
  { title: "WebhookPayload" },
);
export type WebhookPayload = Static<typeof WebhookPayload>;

/** A spec as anyone reads it back (job view, stored answers): every Webhook's secret replaced. */
export function redactWebhookSecrets<T extends { callbacks?: unknown }>(spec: T): T {
  if (!Array.isArray(spec.callbacks)) return spec;
  const callbacks = spec.callbacks.map((callback) =>
    (callback as { type?: unknown }).type === "Webhook" ? { ...callback, secret: REDACTED_SECRET } : callback,
  );
  return { ...spec, callbacks };
}
