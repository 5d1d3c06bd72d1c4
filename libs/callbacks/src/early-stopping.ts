import type { EarlyStoppingConfig, EarlyStoppingOptions } from "@plateau/contract";
import { type CallbackContext, type JsonObject, KerasCallback, numberFromJson, numberToJson } from "./base";
import { resolveLogs, type UnresolvedLogs } from "./logs";
import { Improvement, readMonitor } from "./monitor";
import { optionsOrThrow } from "./validate";
import { type HeldWeight, holdWeights, setHeldWeights, weightsFromJson, weightsToJson } from "./weights-json";

/** Keras 3 `EarlyStopping`, including `restore_best_weights`, `baseline` and `start_from_epoch`. */
export class EarlyStopping extends KerasCallback {
  readonly type = "EarlyStopping";
  readonly options: EarlyStoppingConfig;
  private readonly improvement: Improvement;
  wait = 0;
  stoppedEpoch = 0;
  best: number | null = null;
  bestEpoch = 0;
  /** Copied out of tfjs, so no tensor outlives training. */
  private bestWeights: HeldWeight[] | null = null;

  constructor(options: EarlyStoppingOptions = {}, context?: CallbackContext) {
    super(context);
    this.options = optionsOrThrow(this.type, options);
    this.improvement = new Improvement(this.options.monitor, this.options.mode, this.options.min_delta);
  }

  override async onTrainBegin(): Promise<void> {
    if (this.takeRestored()) return;
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = null;
    this.bestEpoch = 0;
    this.bestWeights = null;
  }

  override async onEpochEnd(epoch: number, rawLogs?: UnresolvedLogs): Promise<void> {
    const logs = await resolveLogs(rawLogs);
    const { monitor, patience, baseline, restore_best_weights, start_from_epoch } = this.options;
    const current = readMonitor(logs, monitor);
    if (current === undefined) {
      this.warn(
        `early stopping conditioned on metric '${monitor}' which is not available; available metrics are: ${Object.keys(logs).join(",")}`,
      );
      return;
    }
    if (epoch < start_from_epoch) return;
    if (restore_best_weights && this.bestWeights === null) {
      this.bestWeights = await holdWeights(this.model.getWeights());
      this.bestEpoch = epoch;
    }
    this.wait += 1;
    if (this.improvement.isImprovement(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (restore_best_weights) this.bestWeights = await holdWeights(this.model.getWeights());
      // Only restart the wait when the value beats both the previous best and the baseline.
      if (baseline === null || this.improvement.isImprovement(current, baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
      this.emit(
        "early_stop",
        { stopped_epoch: epoch, best_epoch: this.bestEpoch, best: this.best, wait: this.wait },
        epoch,
      );
    }
  }

  override async onTrainEnd(): Promise<void> {
    // Restores even when another callback stopped training, as Keras does.
    if (this.options.restore_best_weights && this.bestWeights !== null) {
      setHeldWeights(this.model, this.bestWeights);
      this.emit("restore_best_weights", { epoch: this.bestEpoch }, this.bestEpoch);
    }
  }

  exportState(): JsonObject {
    return {
      wait: this.wait,
      stopped_epoch: this.stoppedEpoch,
      best: numberToJson(this.best),
      best_epoch: this.bestEpoch,
      best_weights: this.bestWeights ? weightsToJson(this.bestWeights) : null,
    };
  }

  restoreState(state: JsonObject): void {
    this.wait = Number(state.wait);
    this.stoppedEpoch = Number(state.stopped_epoch);
    this.best = numberFromJson(state.best);
    this.bestEpoch = Number(state.best_epoch);
    this.bestWeights = weightsFromJson(state.best_weights);
    this.markRestored();
  }
}
