import type { TerminateOnNaNConfig, TerminateOnNaNOptions } from "@plateau/contract";
import { type CallbackContext, type JsonObject, KerasCallback, numberFromJson, numberToJson } from "./base";
import { resolveLogs, type UnresolvedLogs } from "./logs";
import { optionsOrThrow } from "./validate";

export interface NonFiniteLoss {
  epoch: number;
  batch: number;
  value: number;
}

/** Keras 3 `TerminateOnNaN`: stops training at the first batch whose loss is NaN or infinite. */
export class TerminateOnNaN extends KerasCallback {
  readonly type = "TerminateOnNaN";
  readonly options: TerminateOnNaNConfig;
  /** Where the loss first became non-finite, or null. */
  terminated: NonFiniteLoss | null = null;
  private epoch = 0;

  constructor(options: TerminateOnNaNOptions = {}, context?: CallbackContext) {
    super(context);
    this.options = optionsOrThrow(this.type, options);
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchEnd(batch: number, rawLogs?: UnresolvedLogs): Promise<void> {
    const loss = (await resolveLogs(rawLogs)).loss;
    if (loss === undefined || Number.isFinite(loss)) return;
    this.terminated = { epoch: this.epoch, batch, value: loss };
    this.emit("nan", { batch, value: String(loss) }, this.epoch, batch);
    if (this.options.raise_error) {
      throw new Error(
        `NaN or Inf loss encountered at batch ${batch}. Loss value: ${loss}. Terminating training immediately.`,
      );
    }
    this.model.stopTraining = true;
  }

  exportState(): JsonObject {
    const t = this.terminated;
    return {
      epoch: this.epoch,
      terminated: t && { epoch: t.epoch, batch: t.batch, value: numberToJson(t.value) },
    };
  }

  restoreState(state: JsonObject): void {
    this.epoch = Number(state.epoch);
    const t = state.terminated as JsonObject | null;
    this.terminated = t && {
      epoch: Number(t.epoch),
      batch: Number(t.batch),
      value: numberFromJson(t.value) ?? Number.NaN,
    };
  }
}
