import type { DataSource, DataSpec, FileFormat } from "@plateau/contract";
import { type Db, getDataset } from "@plateau/db";
import { type DataUriRules, dataUriKey } from "@plateau/spec";
import { getObjectBytes, getObjectText, type Storage } from "@plateau/storage";
import { type DataFiles, formatOf, SpecError } from "@plateau/training";

type FileSource = Extract<DataSource, { source: "uri" | "dataset" }>;
/** A file a source names: its own, or an .npy source's labels (`y`). */
type FileRef = { source: "uri"; uri: string } | { source: "dataset"; id: string };
/** What reading a job's files needs; `tenantId` is the job's, which owns what it may read. */
type Deps = { db: Db; storage: Storage; dataUris: DataUriRules; tenantId: string };

/**
 * The S3 key of a file, and the dataset's recorded format. A uri is checked again here, as at submission,
 * so a job stored before a rule tightened (or written to the queue by hand) still reads nothing it may not.
 */
async function locate(
  source: FileRef,
  path: string,
  deps: Deps,
): Promise<{ key: string; format?: FileFormat }> {
  if (source.source === "uri") {
    const located = dataUriKey(source.uri, deps.dataUris);
    if ("message" in located) throw new SpecError([{ path: `${path}/uri`, message: located.message }]);
    return { key: located.key };
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
  return { key: dataset.key, format: dataset.format as FileFormat };
}

/** A file's bytes (.npy/.npz) or text (CSV/JSONL). */
async function fetchFile(source: FileRef, path: string, key: string, deps: Deps, binary: boolean) {
  const content = binary ? await getObjectBytes(deps.storage, key) : await getObjectText(deps.storage, key);
  if (content === undefined) {
    const where = source.source === "uri" ? source.uri : `dataset ${source.id}`;
    throw new SpecError([{ path, message: `${where} has no file in S3 (key ${key}); upload it again` }]);
  }
  return content;
}

/**
 * A file source's contents, with the spec completed by what its dataset row knows (the upload recorded the
 * format, so the spec need not repeat it), and an .npy source's labels file.
 */
async function fetchSource(source: FileSource, path: string, deps: Deps) {
  const located = await locate(source, path, deps);
  const resolved: FileSource = { ...source, format: source.format ?? located.format };
  const format = formatOf(resolved);
  const binary = format === "npy" || format === "npz";
  const data = await fetchFile(source, path, located.key, deps, binary);
  if (format !== "npy" || !source.y) return { data, source: resolved };
  const labels = await locate(source.y, `${path}/y`, deps);
  return {
    data,
    labels: (await fetchFile(source.y, `${path}/y`, labels.key, deps, true)) as Uint8Array,
    source: resolved,
  };
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
    const { data, labels, source } = await fetchSource(spec, "/data", deps);
    Object.assign(files, { data, labels });
    resolved = { ...resolved, ...source } as DataSpec;
  }
  if (spec.validation && isFile(spec.validation)) {
    const { data, labels, source } = await fetchSource(spec.validation, "/data/validation", deps);
    Object.assign(files, { validation: data, validationLabels: labels });
    resolved = { ...resolved, validation: source } as DataSpec;
  }
  return { spec: resolved, files };
}
