import {
  type WebhookConfig,
  type WebhookHook,
  type WebhookOptions,
  type WebhookPayload,
  WebhookReply,
} from "@plateau/contract";
import { schemaIssues } from "@plateau/validation";
import { Compile } from "typebox/compile";
import { type CallbackContext, CallbackSpecError, type JsonObject, KerasCallback } from "./base";
import { getLearningRate, setLearningRate } from "./learning-rate";
import { resolveLogs, type UnresolvedLogs } from "./logs";
import { optionsOrThrow } from "./validate";
import { DeliveryError, deliver } from "./webhook-delivery";

const replyValidator = Compile(WebhookReply);

/** One call of a hook, settled: the reply to apply, or why there is none. */
interface Outcome {
  hook: WebhookHook;
  epoch: number;
  batch?: number;
  reply?: WebhookReply;
  error?: string;
  attempts: number;
}

/**
 * A Keras custom callback whose methods are the user's HTTP endpoint: each chosen hook POSTs the job, the
 * hook, epoch, batch, logs and learning rate (signed), and the reply may stop training or set the learning
 * rate, as `self.model.stop_training` and `self.model.optimizer.learning_rate` would.
 *
 * Epoch and train hooks are awaited, as Keras calls hooks, each at most `timeout_ms`. Batch hooks are not:
 * awaiting a round trip every batch would bound training speed by the network. They run one at a time (a
 * batch hook that comes due while one is in flight is skipped and counted) and their reply is applied at the
 * next step after it arrives.
 */
export class Webhook extends KerasCallback {
  readonly type = "Webhook";
  readonly options: WebhookConfig;
  private readonly hooks: ReadonlySet<string>;
  private epoch = 0;
  private lastEpochLogs: Record<string, number> = {};
  /** The batch hooks' call in flight, and its outcome once settled, until the next step applies it. */
  private inFlight: Promise<void> | null = null;
  private settled: Outcome | null = null;
  private skipped = 0;

  constructor(options: WebhookOptions, context: CallbackContext = {}) {
    super(context);
    this.options = optionsOrThrow(this.type, options);
    this.hooks = new Set(this.options.hooks);
  }

  override async onTrainBegin(): Promise<void> {
    this.takeRestored();
    this.epoch = (this.params?.initialEpoch as number | undefined) ?? 0;
    if (!this.context.webhook) {
      this.warn("no webhook settings in this context (simulations have none): the endpoint is not called");
    }
    await this.call("on_train_begin", {});
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.applySettled();
    this.epoch = epoch;
    await this.call("on_epoch_begin", {});
  }

  override async onBatchBegin(batch: number): Promise<void> {
    this.applySettled();
    if (this.due("on_train_batch_begin", batch)) this.send("on_train_batch_begin", {}, batch);
  }

  override async onBatchEnd(batch: number, logs?: UnresolvedLogs): Promise<void> {
    this.applySettled();
    if (!this.due("on_train_batch_end", batch)) return;
    // Reading batch logs syncs with the device: only a batch that calls the endpoint pays for it.
    const { batch: _index, size: _size, ...metrics } = await resolveLogs(logs);
    this.send("on_train_batch_end", metrics, batch);
  }

  override async onEpochEnd(epoch: number, logs?: UnresolvedLogs): Promise<void> {
    this.applySettled();
    this.lastEpochLogs = { ...(await resolveLogs(logs)) };
    if (this.skipped > 0) {
      const reason = "a batch hook came due while the previous call was still in flight";
      this.emit("webhook_skipped", { count: this.skipped, reason }, epoch);
      this.skipped = 0;
    }
    await this.call("on_epoch_end", this.lastEpochLogs);
  }

  /** Keras passes the last epoch's logs to on_train_end; tfjs passes none, so they are kept from epoch end. */
  override async onTrainEnd(): Promise<void> {
    // A batch call still in flight ends within its timeout; its failure is recorded with the job.
    await this.inFlight;
    const late = this.settled;
    this.settled = null;
    if (late?.error !== undefined) this.fail(late);
    else if (late?.reply && Object.keys(late.reply).length > 0) {
      this.warn(`the reply to ${late.hook} arrived after training ended; it was not applied`);
    }
    await this.call("on_train_end", this.lastEpochLogs);
  }

  private due(hook: WebhookHook, batch: number): boolean {
    return this.hooks.has(hook) && batch % this.options.every_n_batches === 0;
  }

  /**
   * An awaited hook: its reply applies before the next step. tfjs clears stopTraining after
   * on_train_begin, so that hook's reply waits for the first epoch's start (then, as in Keras, one batch
   * runs before a stop takes effect).
   */
  private async call(hook: WebhookHook, logs: Record<string, number>): Promise<void> {
    if (!this.hooks.has(hook) || !this.context.webhook) return;
    const outcome = await this.request(hook, logs);
    if (hook === "on_train_begin") this.settled = outcome;
    else this.settle(outcome);
  }

  /** A batch hook: the call runs while training goes on; the next step applies what it settled to. */
  private send(hook: WebhookHook, logs: Record<string, number>, batch: number): void {
    if (!this.context.webhook) return;
    if (this.inFlight) {
      this.skipped += 1;
      return;
    }
    this.inFlight = this.request(hook, logs, batch).then((outcome) => {
      this.settled = outcome;
      this.inFlight = null;
    });
  }

  private applySettled(): void {
    const outcome = this.settled;
    this.settled = null;
    if (outcome) this.settle(outcome);
  }

  /** Calls the endpoint once (with retries); never throws: a failure is an outcome, handled in a hook. */
  private async request(hook: WebhookHook, logs: Record<string, number>, batch?: number): Promise<Outcome> {
    const { jobId, attempt, policy } = this.context.webhook as NonNullable<CallbackContext["webhook"]>;
    const epoch = this.epoch;
    const payload: WebhookPayload = {
      job_id: jobId,
      attempt,
      hook,
      epoch,
      batch: batch ?? null,
      logs: Object.fromEntries(
        Object.entries(logs).map(([key, value]) => [key, Number.isFinite(value) ? value : null]),
      ),
      learning_rate: getLearningRate(this.model),
    };
    const { url, secret, timeout_ms, max_retries } = this.options;
    try {
      const body = JSON.stringify(payload);
      const delivered = await deliver({
        url,
        secret,
        body,
        timeoutMs: timeout_ms,
        maxRetries: max_retries,
        policy,
      });
      const parsed = parseReply(delivered.text);
      return typeof parsed === "string"
        ? { hook, epoch, batch, error: parsed, attempts: delivered.attempts }
        : { hook, epoch, batch, reply: parsed, attempts: delivered.attempts };
    } catch (error) {
      const attempts = error instanceof DeliveryError ? error.attempts : 0;
      return { hook, epoch, batch, error: (error as Error).message, attempts };
    }
  }

  private settle(outcome: Outcome): void {
    if (outcome.error !== undefined) {
      this.fail(outcome);
      return;
    }
    const { reply, hook, epoch, batch } = outcome;
    if (reply?.learning_rate !== undefined) {
      const from = getLearningRate(this.model);
      setLearningRate(this.model, reply.learning_rate);
      this.emit("set_lr", { hook, from, to: getLearningRate(this.model) }, epoch, batch);
    }
    if (reply?.stop_training) {
      this.model.stopTraining = true;
      this.emit("stop_training", { hook }, epoch, batch);
    }
  }

  private fail({ hook, epoch, batch, error, attempts }: Outcome): void {
    const message = `${hook} call to ${new URL(this.options.url).host} failed: ${error}`;
    if (this.options.on_failure === "fail")
      throw new CallbackSpecError(`Webhook: ${message} (on_failure is "fail")`);
    this.emit("webhook_failed", { hook, error: error ?? "", attempts }, epoch, batch);
    this.warn(`${message}; training goes on (on_failure is "warn")`);
  }

  exportState(): JsonObject {
    return {};
  }

  restoreState(_state: JsonObject): void {
    this.markRestored();
  }
}

/** A 2xx body: empty (nothing to do) or a WebhookReply; otherwise the reason it is not one. */
function parseReply(text: string): WebhookReply | string {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "replied with a body that is not JSON";
  }
  if (replyValidator.Check(value)) return value;
  const issues = schemaIssues(WebhookReply, value, { field: "reply field" });
  const problems = issues.map((i) => `${i.path.slice(1) || "body"}: ${i.message}`).join("; ");
  return `replied with what is not a reply (${problems}); a reply is {"stop_training": true} and/or {"learning_rate": <number > 0>}`;
}
