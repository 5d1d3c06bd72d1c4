import Type, { type Static, type TSchema } from "typebox";
import Value from "typebox/value";
import { CSVLoggerOptions } from "./csv-logger";
import { EarlyStoppingOptions } from "./early-stopping";
import { LearningRateSchedulerOptions } from "./learning-rate-scheduler";
import { ModelCheckpointOptions } from "./model-checkpoint";
import { ReduceLROnPlateauOptions } from "./reduce-lr-on-plateau";
import { RuleOptions } from "./rule";
import { TerminateOnNaNOptions } from "./terminate-on-nan";
import { WebhookOptions } from "./webhook";

export * from "./csv-logger";
export * from "./early-stopping";
export * from "./learning-rate-scheduler";
export * from "./model-checkpoint";
export * from "./reduce-lr-on-plateau";
export * from "./rule";
export * from "./terminate-on-nan";
export * from "./webhook";

/**
 * Every callback type a job may use, with its options' schema. Adding one: a file here, an entry in
 * this table, and a factory in libs/callbacks' registry (typed by `CallbackType`, so it cannot be missed).
 */
export const CALLBACK_OPTIONS = {
  ReduceLROnPlateau: ReduceLROnPlateauOptions,
  EarlyStopping: EarlyStoppingOptions,
  TerminateOnNaN: TerminateOnNaNOptions,
  ModelCheckpoint: ModelCheckpointOptions,
  CSVLogger: CSVLoggerOptions,
  LearningRateScheduler: LearningRateSchedulerOptions,
  Rule: RuleOptions,
  Webhook: WebhookOptions,
} as const;
export type CallbackType = keyof typeof CALLBACK_OPTIONS;
export const CALLBACK_TYPES = Object.keys(CALLBACK_OPTIONS) as CallbackType[];

export function isCallbackType(type: unknown): type is CallbackType {
  return typeof type === "string" && Object.hasOwn(CALLBACK_OPTIONS, type);
}

/** Options with every Keras default filled in: what a callback class holds. */
type Defaulted<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
export type CallbackOptions<T extends CallbackType> = Static<(typeof CALLBACK_OPTIONS)[T]>;
export type CallbackConfig<T extends CallbackType> = Defaulted<CallbackOptions<T>>;
export type ReduceLROnPlateauConfig = CallbackConfig<"ReduceLROnPlateau">;
export type EarlyStoppingConfig = CallbackConfig<"EarlyStopping">;
export type TerminateOnNaNConfig = CallbackConfig<"TerminateOnNaN">;
export type ModelCheckpointConfig = CallbackConfig<"ModelCheckpoint">;
export type CSVLoggerConfig = CallbackConfig<"CSVLogger">;
export type LearningRateSchedulerConfig = CallbackConfig<"LearningRateScheduler">;
export type WebhookConfig = CallbackConfig<"Webhook">;

/** `options` with Keras's defaults filled in where left out; checks nothing (validation does that once). */
export function withCallbackDefaults<T extends CallbackType>(type: T, options: unknown): CallbackConfig<T> {
  return Value.Default(CALLBACK_OPTIONS[type], structuredClone(options ?? {})) as CallbackConfig<T>;
}

/**
 * One callback spec in a job: `{"type": "<KerasClassName>", ...keras options}` — one variant per
 * callback, so the OpenAPI document lists every option.
 */
export const CallbackSpecSchema = Type.Unsafe<CallbackSpec>(
  Type.Union(
    CALLBACK_TYPES.map((type) =>
      Type.Object(
        {
          type: Type.Literal(type),
          ...(CALLBACK_OPTIONS[type] as unknown as { properties: Record<string, TSchema> }).properties,
        },
        { additionalProperties: false, title: type },
      ),
    ),
    { description: 'A Keras callback: {"type": "<KerasClassName>", ...Keras options}.' },
  ),
);
export type CallbackSpec = { [T in CallbackType]: { type: T } & CallbackOptions<T> }[CallbackType];
