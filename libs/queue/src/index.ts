export { cancelChannel, jobEventsChannel } from "./channels";
export {
  createRedis,
  isRedisUnavailable,
  pingQueue,
  REDIS_COMMAND_TIMEOUT_MS,
  type RedisPurpose,
  RedisUnavailableError,
  redisOptions,
  redisReady,
  withinRedisDeadline,
} from "./connections";
export {
  checkEvictionPolicy,
  type EvictionCheck,
  reportEvictionPolicy,
  SAFE_EVICTION_POLICY,
} from "./eviction";
export {
  createTrainingQueue,
  createTrainingWorker,
  enqueueTraining,
  enqueueTrainingBulk,
  removeQueued,
  TRAINING_JOB_OPTIONS,
  TRAINING_QUEUE,
  TRAINING_WORKER_SETTINGS,
  type TrainingJob,
  type TrainingJobData,
  type TrainingQueue,
} from "./training-queue";
export { type LiveWorker, listWorkers, WorkerHeartbeat, type WorkerInfo } from "./worker-registry";
