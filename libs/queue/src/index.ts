export { cancelChannel, jobEventsChannel } from "./channels";
export { createRedis, type RedisPurpose, redisOptions } from "./connections";
export {
  createTrainingQueue,
  createTrainingWorker,
  enqueueTraining,
  removeQueued,
  TRAINING_JOB_OPTIONS,
  TRAINING_QUEUE,
  TRAINING_WORKER_SETTINGS,
  type TrainingJob,
  type TrainingJobData,
  type TrainingQueue,
} from "./training-queue";
export { type LiveWorker, listWorkers, WorkerHeartbeat, type WorkerInfo } from "./worker-registry";
