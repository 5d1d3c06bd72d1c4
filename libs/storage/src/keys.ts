/**
 * Where every object lives in the bucket. Keys are built only from ids Plateau generated and names that
 * pass `assertName`, so a caller-supplied string can never climb out of its prefix or collide with
 * another job's objects.
 *
 *   jobs/<job-id>/checkpoints/<name>/model.json   + weight shards beside it
 *   jobs/<job-id>/topology.json                    the model topology of weights-only checkpoints
 *   jobs/<job-id>/model/model.json                 the final model (+ weight shards beside it)
 *   jobs/<job-id>/files/<name>                     files callbacks write (CSVLogger)
 *   jobs/<job-id>/resume/<file>
 *   datasets/<dataset-id>/<file>
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// One path segment: starts with a letter or digit (so never "." or ".."), no slashes, bounded length.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._=+-]{0,127}$/;

export class InvalidKeyPartError extends Error {
  constructor(
    readonly what: string,
    readonly value: string,
  ) {
    super(
      `invalid ${what} ${JSON.stringify(value)}: ${what === "id" ? "expected a lower-case UUID" : "use 1-128 letters, digits, '.', '_', '-', '=' or '+', starting with a letter or digit"}`,
    );
    this.name = "InvalidKeyPartError";
  }
}

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

function assertId(id: string): string {
  if (!UUID.test(id)) throw new InvalidKeyPartError("id", id);
  return id;
}

function assertName(name: string, what = "name"): string {
  if (!NAME.test(name)) throw new InvalidKeyPartError(what, name);
  return name;
}

export const MODEL_JSON = "model.json";

export function jobPrefix(jobId: string): string {
  return `jobs/${assertId(jobId)}/`;
}

/** The folder holding one checkpoint's model.json and weight shards. */
export function checkpointPrefix(jobId: string, name: string): string {
  return `${jobPrefix(jobId)}checkpoints/${assertName(name, "checkpoint name")}/`;
}

/** The model topology of a job whose checkpoints are weights-only, stored once by the worker. */
export function topologyKey(jobId: string): string {
  return `${jobPrefix(jobId)}topology.json`;
}

/** The folder holding the model a job ended with: model.json and weight shards, as a checkpoint's. */
export function finalModelPrefix(jobId: string): string {
  return `${jobPrefix(jobId)}model/`;
}

/** The folder of files a job's callbacks write (CSVLogger); `fileKey(filesPrefix(id), name)` is one. */
export function filesPrefix(jobId: string): string {
  return `${jobPrefix(jobId)}files/`;
}

export function resumePrefix(jobId: string): string {
  return `${jobPrefix(jobId)}resume/`;
}

export function datasetKey(datasetId: string, file: string): string {
  return `datasets/${assertId(datasetId)}/${assertName(file, "file name")}`;
}

/** A file inside a prefix built above, e.g. a weight shard named in a model.json manifest. */
export function fileKey(prefix: string, file: string): string {
  return `${prefix}${assertName(file, "file name")}`;
}
