export { type DataUriRules, dataUriKey, dataUriPrefixes } from "./data-uri";
export * from "./events";
export { type JobSpec, JobSpecSchema } from "./job-spec";
export { type Limits, type Validation, validateJobSpec } from "./validate";
