import type { RuleConfig, RuleHook } from "@plateau/contract";
import type * as tf from "@tensorflow/tfjs";
import { type CallbackContext, CallbackSpecError, type JsonObject, KerasCallback } from "./base";
import { evaluateCondition, evaluateNumber, type Scope } from "./expression";
import { getLearningRate, setLearningRate } from "./learning-rate";
import { resolveLogs, type UnresolvedLogs } from "./logs";
import { ModelCheckpoint } from "./model-checkpoint";
import { withAccuracyAliases } from "./monitor";
import { type ParsedRule, parseRule, type RuleAction } from "./rule-options";
import { optionsOrThrow } from "./validate";

/**
 * A custom callback without user code: `{"type": "Rule", "on": "epoch_end", "if": "val_loss > 1.5 * loss and
 * epoch >= 3", "then": "stop_training"}`. When the hook runs and the condition holds, every action runs in
 * order and is reported as an event.
 */
export class Rule extends KerasCallback {
  readonly type = "Rule";
  readonly options: RuleConfig;
  private readonly rule: ParsedRule;
  /** Checkpoints go through ModelCheckpoint, so paths, sink calls and events are the same as its own. */
  private readonly checkpoint: ModelCheckpoint | null;
  /** How often the condition held and the actions ran; visible to the condition as `fired`. */
  fired = 0;
  private epoch = 0;
  private lastEpochLogs: Record<string, number> = {};

  constructor(options: RuleConfig, context: CallbackContext = {}) {
    super(context);
    this.options = optionsOrThrow(this.type, options);
    const { rule, issues } = parseRule(this.options);
    if (!rule)
      throw new CallbackSpecError(
        `Rule: ${issues.map((i) => `${i.path.slice(1)}: ${i.message}`).join("; ")}`,
      );
    this.rule = rule;
    const relabel: CallbackContext = {
      ...context,
      onEvent: (event) => context.onEvent?.({ ...event, callback: this.type }),
    };
    this.checkpoint = rule.actions.some((a) => a.kind === "checkpoint")
      ? new ModelCheckpoint({ filepath: this.options.filepath }, relabel)
      : null;
  }

  override setModel(model: tf.LayersModel): void {
    super.setModel(model);
    this.checkpoint?.setModel(model);
  }

  override async onTrainBegin(): Promise<void> {
    if (!this.takeRestored()) this.fired = 0;
    this.epoch = (this.params?.initialEpoch as number | undefined) ?? 0;
    await this.run("train_begin", {});
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
    await this.run("epoch_begin", {});
  }

  override async onBatchBegin(batch: number): Promise<void> {
    await this.run("train_batch_begin", {}, batch);
  }

  override async onBatchEnd(batch: number, logs?: UnresolvedLogs): Promise<void> {
    // Reading batch logs syncs with the device, so only a rule on this hook pays for it.
    if (this.rule.hook !== "train_batch_end") return;
    const { batch: _index, size: _size, ...metrics } = await resolveLogs(logs);
    await this.run("train_batch_end", metrics, batch);
  }

  override async onEpochEnd(_epoch: number, logs?: UnresolvedLogs): Promise<void> {
    this.lastEpochLogs = { ...(await resolveLogs(logs)) };
    await this.run("epoch_end", this.lastEpochLogs);
  }

  /** Keras passes the last epoch's logs to on_train_end; tfjs passes none, so they are kept from epoch end. */
  override async onTrainEnd(): Promise<void> {
    await this.run("train_end", this.lastEpochLogs);
  }

  private async run(hook: RuleHook, logs: Record<string, number>, batch?: number): Promise<void> {
    if (this.rule.hook !== hook) return;
    const scope: Record<string, number> = {
      ...withAccuracyAliases(logs),
      lr: getLearningRate(this.model),
      fired: this.fired,
    };
    if (hook !== "train_begin") scope.epoch = this.epoch;
    if (batch !== undefined) scope.batch = batch;
    const { condition, actions } = this.rule;
    if (condition && !this.attempt(() => evaluateCondition(condition, scope), condition.source)) return;
    this.fired += 1;
    for (const action of actions) await this.act(action, scope, logs, batch);
  }

  private async act(
    action: RuleAction,
    scope: Scope,
    logs: Record<string, number>,
    batch?: number,
  ): Promise<void> {
    const why = { on: this.rule.hook, if: this.rule.condition?.source ?? null };
    switch (action.kind) {
      case "stop_training":
        this.model.stopTraining = true;
        this.emit("stop_training", why, this.epoch, batch);
        return;
      case "set_learning_rate": {
        const from = getLearningRate(this.model);
        const next = this.attempt(() => evaluateNumber(action.expression, scope), action.expression.source);
        if (!Number.isFinite(next) || next <= 0) {
          throw new CallbackSpecError(
            `Rule: set_learning_rate "${action.expression.source}" gave ${next}; it must be a finite number > 0`,
          );
        }
        setLearningRate(this.model, next);
        this.emit("set_lr", { ...why, from, to: getLearningRate(this.model) }, this.epoch, batch);
        return;
      }
      case "checkpoint":
        await this.checkpoint?.save(this.epoch, batch ?? null, logs);
        return;
      case "log":
        this.emit("log", { ...why, message: action.message, values: { ...scope } }, this.epoch, batch);
        return;
    }
  }

  /** Evaluation errors (a metric missing from the logs, a division by zero) fail the job naming the rule. */
  private attempt<T>(evaluate: () => T, source: string): T {
    try {
      return evaluate();
    } catch (error) {
      throw new CallbackSpecError(`Rule on ${this.rule.hook}: "${source}": ${(error as Error).message}`);
    }
  }

  exportState(): JsonObject {
    return { fired: this.fired, checkpoint: this.checkpoint?.exportState() ?? null };
  }

  restoreState(state: JsonObject): void {
    this.fired = Number(state.fired);
    if (this.checkpoint && state.checkpoint) this.checkpoint.restoreState(state.checkpoint as JsonObject);
    this.markRestored();
  }
}
