import type { Config } from "@plateau/config";
import type { TrainingJob } from "@plateau/queue";
import type { SelectedBackend } from "@plateau/training";
import type { Logger } from "pino";

/** What every job of this worker process shares. */
export interface ProcessorContext {
  config: Config;
  log: Logger;
  backend: SelectedBackend;
  /** Recorded on the job row, so a user can tell which process trained it. */
  workerName: string;
}

export interface TrainingResult {
  jobId: string;
  backend: string;
  worker: string;
}

/**
 * The BullMQ processor for one training job. `signal` aborts when the job is cancelled
 * (`worker.cancelJob`), which the training loop turns into `model.stopTraining = true`.
 * Throwing means "our side failed, retry later"; a user's mistake is recorded and returned.
 */
export function createProcessor(context: ProcessorContext) {
  return async (job: TrainingJob, _token?: string, signal?: AbortSignal): Promise<TrainingResult> => {
    const log = context.log.child({ jobId: job.data.jobId, attempt: job.attemptsMade + 1 });
    log.info({ backend: context.backend.name, cancelled: signal?.aborted ?? false }, "job received");
    return { jobId: job.data.jobId, backend: context.backend.name, worker: context.workerName };
  };
}
