/**
 * Every wire shape of Plateau, written once: the job spec, the HTTP bodies, events, statuses, the problem
 * type and the Keras name tables. No tfjs, no I/O, no Node-only APIs and no workspace imports (a test
 * holds this), so the API, the worker, the client, the CLI and a browser bundle all share it.
 */
export * from "./admin";
export * from "./callbacks";
export * from "./compile";
export * from "./data";
export * from "./events";
export * from "./fit";
export * from "./job-spec";
export * from "./keras-names";
export * from "./model";
export * from "./problem";
export * from "./resources";
export * from "./schedules";
