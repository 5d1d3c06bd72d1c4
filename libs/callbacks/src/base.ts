import type { CallbackEvent } from "@plateau/contract";
import * as tf from "@tensorflow/tfjs";
import { CallbackSpecError } from "./callback-spec-error";
import type { ArtifactSink } from "./sink";
import type { WebhookPolicy } from "./webhook-target";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One decision a callback took, streamed next to the metrics so users can see "why". */
export type { CallbackEvent };
export { CallbackSpecError };

export interface CallbackContext {
  onEvent?: (event: CallbackEvent) => void;
  sink?: ArtifactSink;
  warn?: (message: string) => void;
  /** Who a Webhook speaks for and where it may call; without it, a Webhook calls nothing (simulations). */
  webhook?: WebhookContext;
}

export interface WebhookContext {
  jobId: string;
  /** The job's attempt, from 1 (a job moved to another worker trains again). */
  attempt: number;
  /** `webhookPolicy(config)`: the allowlist and networks of the service. */
  policy: WebhookPolicy;
}

/** Base of every Plateau callback: a tfjs callback that reports decisions and can move between workers. */
export abstract class KerasCallback extends tf.Callback {
  /** Keras class name; also the `type` of the callback's JSON spec. */
  abstract readonly type: string;

  constructor(protected readonly context: CallbackContext = {}) {
    super();
  }

  protected emit(action: string, details: Record<string, unknown>, epoch: number, batch?: number): void {
    const event: CallbackEvent = { callback: this.type, epoch, action, details };
    if (batch !== undefined) event.batch = batch;
    this.context.onEvent?.(event);
  }

  protected warn(message: string): void {
    (this.context.warn ?? console.warn)(`${this.type}: ${message}`);
  }

  /** Internal state as plain JSON, so a job moved to another worker continues with identical decisions. */
  abstract exportState(): JsonObject;
  /** Implementations call `markRestored()` so the next `onTrainBegin` continues instead of resetting. */
  abstract restoreState(state: JsonObject): void;

  private restored = false;

  protected markRestored(): void {
    this.restored = true;
  }

  /**
   * Keras resets per-run state in on_train_begin; a job resumed on another worker calls `fit` again after
   * `restoreState`, and that call must continue the restored run. True once after a restore.
   */
  protected takeRestored(): boolean {
    const restored = this.restored;
    this.restored = false;
    return restored;
  }
}

/** JSON has no NaN or infinities, but a best value may legitimately be one of them. */
export function numberToJson(value: number | null): JsonValue {
  if (value === null || Number.isFinite(value)) return value;
  return String(value);
}

export function numberFromJson(value: JsonValue | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value;
  if (value === "NaN" || value === "Infinity" || value === "-Infinity") return Number(value);
  throw new Error(`expected a number in callback state, got ${JSON.stringify(value)}`);
}
