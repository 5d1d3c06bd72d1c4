export {
  type AttemptEnding,
  endAttempt,
  listAttempts,
  type ResumePoint,
  rollBackTo,
  setResumePoint,
} from "./attempts";
export {
  bestCheckpoint,
  getCheckpoint,
  listCheckpoints,
  type NewCheckpoint,
  recordCheckpoint,
} from "./checkpoints";
export { createDb, type Db, type DbClient } from "./client";
export { createDataset, getDataset, type NewDataset } from "./datasets";
export { type DownsampledMetrics, type DownsampledRow, downsampledMetrics } from "./downsample";
export { appendEvents, eventsAfter, lastSeq, type NewEvent } from "./events";
export type {
  ApiKey,
  Checkpoint,
  Dataset,
  Job,
  JobAttempt,
  JobEvent,
  Tenant,
} from "./generated/prisma/client";
export { Prisma } from "./generated/prisma/client";
export { JobStatus, StopReason } from "./generated/prisma/enums";
export {
  type Claim,
  claimIdempotencyKey,
  completeIdempotencyKey,
  type IdempotencyScope,
  releaseIdempotencyKey,
} from "./idempotency";
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
  type QueuedOutcome,
  requestCancel,
  type SubmittedJob,
  storeQueuedJobs,
  unfinishedJobs,
  updateProgress,
} from "./jobs";
export { ensureDatabase, type MigrateResult, MigrationError, migrate } from "./migrate";
export {
  createApiKey,
  createTenant,
  findLiveKey,
  getTenant,
  getTenantByName,
  hashKey,
  KEY_PREFIX,
  listApiKeys,
  revokeApiKey,
  sharedSecret,
  touchApiKey,
} from "./tenants";
