export { type ClientOptions, PlateauClient, type UploadOptions } from "./client";
export { ApiError, ApiUnreachableError } from "./errors";
export type { ApiTarget, StreamEventsOptions } from "./event-stream";
