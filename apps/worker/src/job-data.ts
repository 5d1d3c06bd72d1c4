import { type Db, getDataset } from "@plateau/db";
import { getObjectText, type Storage } from "@plateau/storage";
import { type DataFiles, type DataSource, type DataSpec, SpecError } from "@plateau/training";

type FileSource = Extract<DataSource, { source: "uri" | "dataset" }>;

/** The S3 key of a file source, checked to be in the service's bucket (the only one it may read). */
async function locate(
  source: FileSource,
  path: string,
  deps: { db: Db; storage: Storage },
): Promise<{ key: string; source: FileSource }> {
  if (source.source === "uri") {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(source.uri);
    if (!match || match[1] !== deps.storage.bucket) {
      throw new SpecError([
        {
          path: `${path}/uri`,
          message: `${source.uri} is not in this service's bucket; give s3://${deps.storage.bucket}/<key> or upload the file with POST /v1/datasets and use {"source": "dataset", "id": …}`,
        },
      ]);
    }
    return { key: match[2], source };
  }
  const dataset = await getDataset(deps.db, source.id);
  if (!dataset) {
    throw new SpecError([
      {
        path: `${path}/id`,
        message: `dataset ${source.id} does not exist; upload it with POST /v1/datasets`,
      },
    ]);
  }
  // The upload recorded the format, so the spec need not repeat it.
  return {
    key: dataset.key,
    source: { ...source, format: source.format ?? (dataset.format as "csv" | "jsonl") },
  };
}

async function fetchText(
  source: FileSource,
  path: string,
  deps: { db: Db; storage: Storage },
): Promise<{ text: string; source: FileSource }> {
  const located = await locate(source, path, deps);
  const text = await getObjectText(deps.storage, located.key);
  if (text === undefined) {
    const where = source.source === "uri" ? source.uri : `dataset ${source.id}`;
    throw new SpecError([
      { path, message: `${where} has no file in S3 (key ${located.key}); upload it again` },
    ]);
  }
  return { text, source: located.source };
}

function isFile(source: DataSource): source is FileSource {
  return source.source === "uri" || source.source === "dataset";
}

/**
 * Reads the job's data files from S3 (`uri` in the service's bucket, or an uploaded `dataset`) for
 * `loadData`, with the spec completed by what the dataset row knows. Problems are SpecErrors a user can fix.
 */
export async function fetchData(
  spec: DataSpec,
  deps: { db: Db; storage: Storage },
): Promise<{ spec: DataSpec; files: DataFiles }> {
  const files: DataFiles = {};
  let resolved = spec;
  if (isFile(spec)) {
    const { text, source } = await fetchText(spec, "/data", deps);
    files.data = text;
    resolved = { ...resolved, ...source } as DataSpec;
  }
  if (spec.validation && isFile(spec.validation)) {
    const { text, source } = await fetchText(spec.validation, "/data/validation", deps);
    files.validation = text;
    resolved = { ...resolved, validation: source } as DataSpec;
  }
  return { spec: resolved, files };
}
