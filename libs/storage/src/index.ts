export { createStorage, ensureBucket, probeBucket, type Storage } from "./client";
export {
  checkpointPrefix,
  datasetKey,
  fileKey,
  InvalidKeyPartError,
  isValidName,
  jobPrefix,
  MODEL_JSON,
  resumePrefix,
  topologyKey,
} from "./keys";
export {
  loadModelArtifacts,
  ModelNotFoundError,
  readModelJson,
  type S3LoadOptions,
  type S3SaveOptions,
  type S3SaveResult,
  type StoredModelJson,
  s3LoadHandler,
  s3SaveHandler,
  saveModel,
} from "./model-io";
export {
  deleteKeys,
  deletePrefix,
  getObjectBytes,
  getObjectText,
  listKeys,
  type ObjectStream,
  openObject,
  type PresignedUrl,
  type PutOptions,
  presignGet,
  putObject,
  type UploadOptions,
  uploadObject,
} from "./objects";
