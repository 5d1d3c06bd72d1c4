import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BackendReport, FromTrainer, ToTrainer } from "./protocol";

// From source (tsx, vitest) the trainer is main.ts beside this file; in the production build it is
// dist/trainer.js beside the bundle this code is in (tsup.config.ts).
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const ENTRY = fileURLToPath(new URL(FROM_SOURCE ? "./main.ts" : "./trainer.js", import.meta.url));
const EXEC_ARGV = FROM_SOURCE ? ["--import", "tsx"] : [];
const MAX_JOBS_PER_TRAINER = 50;
const MAX_IDLE = 2;

/** How a trainer process ended, in words for an attempt's record. */
export function exitCause(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === "SIGKILL") return "the training process was killed (SIGKILL: most often out of memory)";
  if (signal) return `the training process was killed by ${signal}`;
  return `the training process exited with code ${code}`;
}

export interface TrainerOptions {
  /** TFJS_BACKEND for the trainer. */
  backend: string;
  /** Where its start-up warnings go (backend selection), before a job listens. */
  onWarning: (message: string) => void;
}

/** One forked trainer (./main.ts), from start-up (tfjs backend loaded: `ready`) to exit. */
export class TrainerProcess {
  /** The backend it loaded, once it is ready to take a job. */
  readonly ready: Promise<BackendReport>;
  /** How it ended, once it has. */
  readonly exited: Promise<string>;
  private readonly child: ChildProcess;
  private listener: ((message: FromTrainer) => void) | null = null;
  /** Jobs it has finished. */
  jobs = 0;
  private early: FromTrainer[] = [];

  constructor(options: TrainerOptions) {
    const { onWarning } = options;
    this.child = fork(ENTRY, [], {
      execArgv: EXEC_ARGV,
      env: { ...process.env, TFJS_BACKEND: options.backend },
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.exited = new Promise((resolve) =>
      // "close" comes after the IPC channel has delivered everything the trainer sent before it ended.
      this.child.once("close", (code, signal) => resolve(exitCause(code, signal))),
    );
    this.ready = new Promise((resolve, reject) => {
      this.child.on("message", (message: FromTrainer) => {
        if (message.kind === "ready") {
          const { kind: _kind, ...report } = message;
          resolve(report);
        } else if (message.kind === "warn" && !this.listener) onWarning(message.message);
        else if (this.listener) this.listener(message);
        else this.early.push(message);
      });
      void this.exited.then((cause) => reject(new Error(`${cause} before it was ready`)));
    });
  }

  /** Hands every message from now on (and any that came first) to `listener`. */
  listen(listener: (message: FromTrainer) => void): void {
    this.listener = listener;
    for (const message of this.early.splice(0)) listener(message);
  }

  /** Sends unless the trainer is gone (its exit is reported through `exited`). */
  send(message: ToTrainer): void {
    if (this.child.connected) this.child.send(message, (error) => error && undefined);
  }

  get alive(): boolean {
    return this.child.connected && this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}

/**
 * Keeps a trainer started ahead of need, so a job does not wait for a process and tfjs to load. A trainer
 * whose job ended cleanly trains a later one (it frees each job's tensors) and is preferred, being warm;
 * one that crashed, was stopped mid-job or has trained MAX_JOBS_PER_TRAINER jobs is ended, which bounds
 * what a slow leak can grow to. At most MAX_IDLE trainers wait.
 */
export class TrainerPool {
  private idle: TrainerProcess[] = [];
  private readyOnes = new WeakSet<TrainerProcess>();
  private closed = false;

  constructor(private readonly options: TrainerOptions) {}

  /** A trainer ready to take a job. */
  async take(): Promise<TrainerProcess> {
    const index = this.idle.findIndex((trainer) => this.readyOnes.has(trainer));
    const [trainer] = index >= 0 ? this.idle.splice(index, 1) : this.idle.splice(0, 1);
    const taken = trainer ?? this.start();
    if (this.idle.length === 0) this.refill();
    await taken.ready;
    return taken;
  }

  /** Takes back a trainer whose job ended cleanly. */
  release(trainer: TrainerProcess): void {
    trainer.jobs += 1;
    if (
      this.closed ||
      this.idle.length >= MAX_IDLE ||
      trainer.jobs >= MAX_JOBS_PER_TRAINER ||
      !trainer.alive
    ) {
      trainer.kill();
      if (this.idle.length === 0) this.refill();
      return;
    }
    this.keep(trainer);
  }

  /** Starts a trainer unless one waits (also at worker start); resolves when one is ready. */
  refill(): Promise<BackendReport> | undefined {
    if (this.closed) return undefined;
    return (this.idle[0] ?? this.keep(this.start())).ready;
  }

  private start(): TrainerProcess {
    const trainer = new TrainerProcess(this.options);
    void trainer.ready.then(
      () => this.readyOnes.add(trainer),
      () => {},
    );
    return trainer;
  }

  private keep(trainer: TrainerProcess): TrainerProcess {
    this.idle.push(trainer);
    // One that dies while waiting (or fails to load tfjs) is dropped; take() starts another.
    void trainer.exited.then(() => {
      this.idle = this.idle.filter((other) => other !== trainer);
    });
    return trainer;
  }

  close(): void {
    this.closed = true;
    for (const trainer of this.idle.splice(0)) trainer.kill();
  }
}
