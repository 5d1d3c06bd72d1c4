import type { LearningRateSchedulerConfig, LearningRateSchedulerOptions } from "@plateau/contract";
import {
  type CallbackContext,
  CallbackSpecError,
  type JsonObject,
  KerasCallback,
  numberFromJson,
  numberToJson,
} from "./base";
import { getLearningRate, setLearningRate } from "./learning-rate";
import type { UnresolvedLogs } from "./logs";
import { compileSchedule } from "./schedules";
import { optionsOrThrow } from "./validate";

/**
 * Keras 3 `LearningRateScheduler` (keras/src/callbacks/learning_rate_scheduler.py) with the schedule as data:
 * at every epoch begin, lr = schedule(epoch, current lr) — epoch 0-based, lr read back at float32 as Keras
 * reads its float32 variable — and the result is stored at float32. At epoch end `learning_rate` goes into
 * the logs.
 */
export class LearningRateScheduler extends KerasCallback {
  readonly type = "LearningRateScheduler";
  readonly options: LearningRateSchedulerConfig;
  private readonly schedule: (epoch: number, lr: number) => number;
  /** The optimizer's rate when state was exported; re-applied when a resumed run begins. */
  private restoredLearningRate: number | null = null;

  constructor(options: LearningRateSchedulerOptions, context?: CallbackContext) {
    super(context);
    this.options = optionsOrThrow(this.type, options);
    this.schedule = compileSchedule(this.options.schedule as Parameters<typeof compileSchedule>[0]);
  }

  override async onTrainBegin(): Promise<void> {
    // `lr` feeds the next schedule call, so a resumed run must start from the rate the old run ended with.
    if (this.takeRestored() && this.restoredLearningRate !== null)
      setLearningRate(this.model, this.restoredLearningRate);
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    const from = getLearningRate(this.model);
    let next: number;
    try {
      next = this.schedule(epoch, from);
    } catch (error) {
      throw new CallbackSpecError(`LearningRateScheduler at epoch ${epoch}: ${(error as Error).message}`);
    }
    if (!Number.isFinite(next) || next <= 0) {
      throw new CallbackSpecError(
        `LearningRateScheduler: the schedule gave learning rate ${next} at epoch ${epoch} (lr was ${from}); ` +
          "it must be a finite number > 0",
      );
    }
    setLearningRate(this.model, next);
    const to = getLearningRate(this.model);
    if (to !== from) this.emit("set_lr", { from, to }, epoch);
  }

  override async onEpochEnd(_epoch: number, logs?: UnresolvedLogs): Promise<void> {
    if (logs) logs.learning_rate = getLearningRate(this.model);
  }

  exportState(): JsonObject {
    return {
      learning_rate: numberToJson(this.model ? getLearningRate(this.model) : this.restoredLearningRate),
    };
  }

  restoreState(state: JsonObject): void {
    this.restoredLearningRate = numberFromJson(state.learning_rate);
    this.markRestored();
  }
}
