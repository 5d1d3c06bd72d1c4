import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * What a worker measures about the training it does, as Prometheus metrics (served by
 * ./metrics-server.ts). Plain methods, called where the thing happens; every one is cheap (no I/O).
 * Counts are this worker's own: sum them across workers.
 */
export class WorkerTelemetry {
  readonly registry = new Registry();
  private readonly running: Gauge;
  private readonly attempts: Counter;
  private readonly queueWait: Histogram;
  private readonly epochs: Histogram;
  private readonly batches: Histogram;
  private readonly samples: Counter;
  private readonly samplesPerSecond: Gauge;
  private readonly checkpointSize: Histogram;
  private readonly checkpointUpload: Histogram;
  private readonly eventLagSeconds: Histogram;
  private readonly resumes: Counter;

  constructor(readonly info: { backend: string; device: string }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, buckets, registers });
    const counter = (name: string, help: string, labelNames: string[] = []) =>
      new Counter({ name, help, labelNames, registers });
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers });
    gauge(
      "plateau_worker_info",
      "Always 1; its labels say which tfjs backend and device this worker trains on.",
      ["backend", "device"],
    ).set(info, 1);
    this.running = gauge("plateau_worker_jobs_running", "Jobs this worker is training now.");
    this.attempts = counter(
      "plateau_worker_attempts_total",
      "Job attempts this worker ended: completed (the job ended or was handed back) or failed (an error on the service's side; BullMQ retries it).",
      ["result"],
    );
    this.queueWait = histogram(
      "plateau_worker_queue_wait_seconds",
      "Time from enqueueing to the start of a job's first attempt.",
      [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
    );
    this.epochs = histogram(
      "plateau_worker_epoch_duration_seconds",
      "Wall time of one training epoch, validation included.",
      [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    );
    this.batches = histogram(
      "plateau_worker_batch_duration_seconds",
      "Wall time of a training batch: each epoch's mean (epoch duration / batches), observed once per epoch.",
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    );
    this.samples = counter(
      "plateau_worker_samples_total",
      "Training samples this worker went through (rate() of it is samples per second).",
    );
    this.samplesPerSecond = gauge(
      "plateau_worker_samples_per_second",
      "Training samples per second in the last epoch this worker finished.",
    );
    this.checkpointSize = histogram(
      "plateau_worker_checkpoint_size_bytes",
      "Size of each checkpoint or final model uploaded to S3 (model.json and weights).",
      [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10],
    );
    this.checkpointUpload = histogram(
      "plateau_worker_checkpoint_upload_duration_seconds",
      "Time to upload one checkpoint or final model to S3.",
      [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    );
    this.eventLagSeconds = histogram(
      "plateau_worker_event_lag_seconds",
      "Time from an event's creation to its storage in Postgres and publication on Redis (the oldest of each flush).",
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60],
    );
    this.resumes = counter(
      "plateau_worker_resumes_total",
      "Attempts that continued a job from the resume snapshot of an earlier attempt.",
    );
  }

  /** A job's attempt started; `queuedSeconds` for a first attempt (time since it was enqueued). */
  jobStarted(queuedSeconds: number | null): void {
    this.running.inc();
    if (queuedSeconds !== null) this.queueWait.observe(Math.max(0, queuedSeconds));
  }

  jobEnded(result: "completed" | "failed"): void {
    this.running.dec();
    this.attempts.inc({ result });
  }

  /** An epoch ended after `seconds`, having trained on `samples` samples. */
  epochEnded({ seconds, samples }: { seconds: number; samples: number }): void {
    this.epochs.observe(seconds);
    this.samples.inc(samples);
    if (seconds > 0) this.samplesPerSecond.set(samples / seconds);
  }

  batchTimed(seconds: number): void {
    this.batches.observe(seconds);
  }

  checkpointUploaded({ bytes, seconds }: { bytes: number; seconds: number }): void {
    this.checkpointSize.observe(bytes);
    this.checkpointUpload.observe(seconds);
  }

  eventLag(seconds: number): void {
    this.eventLagSeconds.observe(Math.max(0, seconds));
  }

  resumed(): void {
    this.resumes.inc();
  }
}
