export {
  bestCheckpoint,
  getCheckpoint,
  listCheckpoints,
  type NewCheckpoint,
  recordCheckpoint,
} from "./checkpoints";
export { createDb, type Db, type DbClient } from "./client";
export { createDataset, getDataset, type NewDataset } from "./datasets";
export { appendEvents, eventsAfter, lastSeq, type NewEvent } from "./events";
export type { Checkpoint, Dataset, Job, JobEvent } from "./generated/prisma/client";
export { Prisma } from "./generated/prisma/client";
export { JobStatus, StopReason } from "./generated/prisma/enums";
export {
  type CancelOutcome,
  createJob,
  finishJob,
  getJob,
  InvalidCursorError,
  type JobOutcome,
  type JobPage,
  listJobs,
  markRunning,
  type NewJob,
  type Progress,
  queuedJobIds,
  requestCancel,
  updateProgress,
} from "./jobs";
export { ensureDatabase, type MigrateResult, MigrationError, migrate } from "./migrate";
