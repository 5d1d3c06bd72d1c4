import { type Db, type Progress, updateProgress } from "@plateau/db";
import type { Logger } from "pino";

/**
 * Keeps the job row's epoch, learning rate and best up to date without making training wait on Postgres:
 * one update in flight at a time, and only the latest progress is written when updates fall behind.
 */
export class ProgressWriter {
  private latest: Progress | null = null;
  private writing: Promise<void> | null = null;

  constructor(private readonly deps: { db: Db; jobId: string; log: Logger; attempt?: number }) {}

  update(progress: Progress): void {
    this.latest = progress;
    this.writing ??= this.write();
  }

  private async write(): Promise<void> {
    for (let next = this.latest; next !== null; next = this.latest) {
      this.latest = null;
      await updateProgress(this.deps.db, this.deps.jobId, next, this.deps.attempt).catch((error) =>
        this.deps.log.warn({ err: error }, "could not update the job's progress"),
      );
    }
    this.writing = null;
  }

  /** Resolves once the latest progress is written. */
  async settle(): Promise<void> {
    await this.writing;
  }
}
