import type { DataSource, DataSpec } from "@plateau/contract";
import { type Db, getDataset } from "@plateau/db";
import { type DataUriRules, dataUriKey } from "@plateau/spec";
import { getObjectText, type Storage } from "@plateau/storage";
import { type DataFiles, SpecError } from "@plateau/training";

type FileSource = Extract<DataSource, { source: "uri" | "dataset" }>;
/** What reading a job's files needs; `tenantId` is the job's, which owns what it may read. */
type Deps = { db: Db; storage: Storage; dataUris: DataUriRules; tenantId: string };

/**
 * The S3 key of a file source. A uri is checked again here, as at submission, so a job stored before a
 * rule tightened (or written to the queue by hand) still reads nothing it may not.
 */
async function locate(
  source: FileSource,
  path: string,
  deps: Deps,
): Promise<{ key: string; source: FileSource }> {
  if (source.source === "uri") {
    const located = dataUriKey(source.uri, deps.dataUris);
    if ("message" in located) throw new SpecError([{ path: `${path}/uri`, message: located.message }]);
    return { key: located.key, source };
  }
  const dataset = await getDataset(deps.db, source.id, deps.tenantId);
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
  deps: Deps,
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
export async function fetchData(spec: DataSpec, deps: Deps): Promise<{ spec: DataSpec; files: DataFiles }> {
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
