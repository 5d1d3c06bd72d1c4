import type { ReduceLROnPlateauConfig, ReduceLROnPlateauOptions } from "@plateau/contract";
import { type CallbackContext, type JsonObject, KerasCallback, numberFromJson, numberToJson } from "./base";
import { getLearningRate, setLearningRate } from "./learning-rate";
import { resolveLogs, type UnresolvedLogs } from "./logs";
import { Improvement, readMonitor } from "./monitor";
import { optionsOrThrow } from "./validate";

/** Keras 3 `ReduceLROnPlateau`: divide the learning rate when the monitored quantity stops improving. */
export class ReduceLROnPlateau extends KerasCallback {
  readonly type = "ReduceLROnPlateau";
  readonly options: ReduceLROnPlateauConfig;
  private readonly improvement: Improvement;
  wait = 0;
  cooldownCounter = 0;
  best: number | null = null;

  constructor(options: ReduceLROnPlateauOptions = {}, context?: CallbackContext) {
    super(context);
    this.options = optionsOrThrow(this.type, options);
    this.improvement = new Improvement(this.options.monitor, this.options.mode, this.options.min_delta);
  }

  override async onTrainBegin(): Promise<void> {
    if (this.takeRestored()) return;
    this.wait = 0;
    this.cooldownCounter = 0;
    this.best = null;
  }

  override async onEpochEnd(epoch: number, rawLogs?: UnresolvedLogs): Promise<void> {
    const logs = await resolveLogs(rawLogs);
    logs.learning_rate = getLearningRate(this.model);
    const { monitor, patience, factor, min_lr, cooldown } = this.options;
    const current = readMonitor(logs, monitor);
    if (current === undefined) {
      this.warn(
        `learning rate reduction is conditioned on metric '${monitor}' which is not available; available metrics are: ${Object.keys(logs).join(",")}`,
      );
      return;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.wait = 0;
    }
    if (this.improvement.isImprovement(current, this.best)) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter <= 0) {
      this.wait += 1;
      if (this.wait >= patience) {
        const oldLr = getLearningRate(this.model);
        // Keras compares the float32 variable with np.float32(min_lr), so a rate already at min_lr stays put.
        if (oldLr > Math.fround(min_lr)) {
          setLearningRate(this.model, Math.max(oldLr * factor, min_lr));
          const details = { from: oldLr, to: getLearningRate(this.model), wait: this.wait, best: this.best };
          this.emit("reduce_lr", details, epoch);
          this.cooldownCounter = cooldown;
          this.wait = 0;
        }
      }
    }
  }

  exportState(): JsonObject {
    return { wait: this.wait, cooldown_counter: this.cooldownCounter, best: numberToJson(this.best) };
  }

  restoreState(state: JsonObject): void {
    this.wait = Number(state.wait);
    this.cooldownCounter = Number(state.cooldown_counter);
    this.best = numberFromJson(state.best);
    this.markRestored();
  }
}
