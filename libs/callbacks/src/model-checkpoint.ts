import type { ModelCheckpointConfig, ModelCheckpointOptions } from "@plateau/contract";
import {
  type CallbackContext,
  CallbackSpecError,
  type JsonObject,
  KerasCallback,
  numberFromJson,
  numberToJson,
} from "./base";
import { resolveLogs, type UnresolvedLogs } from "./logs";
import { Improvement, readMonitor, withAccuracyAliases } from "./monitor";
import { renderTemplate } from "./python-format";
import type { ArtifactSink } from "./sink";
import { optionsOrThrow } from "./validate";

/** Keras 3 `ModelCheckpoint`, saving tfjs-format artifacts through the injected sink. */
export class ModelCheckpoint extends KerasCallback {
  readonly type = "ModelCheckpoint";
  readonly options: ModelCheckpointConfig;
  private readonly improvement: Improvement;
  private readonly sink: ArtifactSink;
  best: number | null;
  private batchesSeenSinceLastSaving = 0;
  private lastBatchSeen = 0;
  private currentEpoch = 0;

  constructor(options: ModelCheckpointOptions = {}, context: CallbackContext = {}) {
    super(context);
    this.options = optionsOrThrow(this.type, options);
    this.improvement = new Improvement(this.options.monitor, this.options.mode);
    this.best = this.options.initial_value_threshold;
    if (!context.sink) throw new Error("ModelCheckpoint: needs an artifact sink (context.sink) to save to");
    this.sink = context.sink;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.currentEpoch = epoch;
  }

  override async onBatchEnd(batch: number, rawLogs?: UnresolvedLogs): Promise<void> {
    if (!this.shouldSaveOnBatch(batch)) return;
    const { batch: _index, size: _size, ...logs } = await resolveLogs(rawLogs);
    await this.save(this.currentEpoch, batch, logs);
  }

  override async onEpochEnd(epoch: number, rawLogs?: UnresolvedLogs): Promise<void> {
    if (this.options.save_freq === "epoch") await this.save(epoch, null, await resolveLogs(rawLogs));
  }

  /** Batches are counted across epochs, so save_freq may exceed the batches in one epoch. */
  private shouldSaveOnBatch(batch: number): boolean {
    const { save_freq } = this.options;
    if (save_freq === "epoch") return false;
    this.batchesSeenSinceLastSaving += batch <= this.lastBatchSeen ? batch + 1 : batch - this.lastBatchSeen;
    this.lastBatchSeen = batch;
    if (this.batchesSeenSinceLastSaving < save_freq) return false;
    this.batchesSeenSinceLastSaving = 0;
    return true;
  }

  private render(template: string, values: Parameters<typeof renderTemplate>[1]): string {
    try {
      return renderTemplate(template, values);
    } catch (error) {
      throw new CallbackSpecError(`ModelCheckpoint filepath "${template}": ${(error as Error).message}`);
    }
  }

  /** Saves now, as an epoch-end (batch null) or batch save would; the Rule callback checkpoints through this. */
  async save(epoch: number, batch: number | null, logs: Record<string, number>): Promise<void> {
    const { monitor, save_best_only, save_weights_only, filepath: template } = this.options;
    const ints: Record<string, number> = { epoch: epoch + 1 };
    if (batch !== null) ints.batch = batch + 1;
    const filepath = this.render(template, { ints, floats: withAccuracyAliases(logs) });
    const current = readMonitor(logs, monitor) ?? null;
    const isBest = current !== null && this.improvement.isImprovement(current, this.best);
    if (save_best_only) {
      if (current === null) {
        this.warn(`can save best model only with ${monitor} available`);
      } else if (!isBest) {
        return;
      }
    }
    if (isBest) this.best = current;
    await this.sink.saveModel(this.model, {
      filepath,
      epoch,
      batch,
      monitor,
      monitor_value: current,
      is_best: isBest,
      weights_only: save_weights_only,
    });
    this.emit("checkpoint", { filepath, is_best: isBest, monitor_value: current }, epoch, batch ?? undefined);
  }

  exportState(): JsonObject {
    return {
      best: numberToJson(this.best),
      batches_seen_since_last_saving: this.batchesSeenSinceLastSaving,
      last_batch_seen: this.lastBatchSeen,
      current_epoch: this.currentEpoch,
    };
  }

  restoreState(state: JsonObject): void {
    this.best = numberFromJson(state.best);
    this.batchesSeenSinceLastSaving = Number(state.batches_seen_since_last_saving);
    this.lastBatchSeen = Number(state.last_batch_seen);
    this.currentEpoch = Number(state.current_epoch);
  }
}
