/**
 * What kind of file a `uri`/`dataset` source names (CSV/JSONL table, .npy, .npz) and whether its fields fit
 * that kind, checked at submission where the spec tells the kind and again by the worker once a dataset's
 * recorded format is known. No tfjs and no I/O here.
 */
import type { DataSource, FileFormat, Issue } from "@plateau/contract";

export type FileSource = Extract<DataSource, { source: "uri" | "dataset" }>;

/** How error messages name a file source. */
export function describeFile(
  source: { source: "uri"; uri: string } | { source: "dataset"; id: string },
): string {
  return source.source === "uri" ? source.uri : `dataset ${source.id}`;
}

/** The format the source gives, else its file name's extension, else null. */
export function formatOf(source: FileSource): FileFormat | null {
  if (source.format) return source.format;
  const ext = describeFile(source)
    .toLowerCase()
    .match(/\.(csv|jsonl|ndjson|npy|npz)$/)?.[1];
  if (ext === "ndjson") return "jsonl";
  return (ext as FileFormat | undefined) ?? null;
}

/**
 * The fields a file source must and must not have for its format. With the format unknown (a dataset
 * whose upload the spec does not repeat), the fields say which kind the user means; the worker checks
 * again with the dataset's format.
 */
export function fileSourceIssues(source: FileSource, path: string): Issue[] {
  const format = formatOf(source);
  const given = (["label", "features", "arrays", "y"] as const).filter((key) => source[key] !== undefined);
  const table = format === "csv" || format === "jsonl" || (format === null && source.label !== undefined);
  const [kind, needs, allowed] = table
    ? [`a ${format ?? "CSV/JSONL"} file`, "label", ["label", "features"]]
    : format === "npy" || (format === null && source.y !== undefined)
      ? ["an .npy file", "y", ["y"]]
      : ["an .npz file", null, ["arrays"]];
  const issues: Issue[] = given
    .filter((key) => !allowed.includes(key))
    .map((key) => ({
      path: `${path}/${key}`,
      message: `is not used with ${kind}${key === "label" || key === "features" ? " (those name CSV/JSONL columns)" : ""}`,
    }));
  if (needs === "label" && source.label === undefined) {
    issues.push({ path: `${path}/label`, message: `is required with ${kind}: the column of labels` });
  }
  if (needs === "y" && source.y === undefined) {
    issues.push({
      path: `${path}/y`,
      message: `is required with ${kind}: the .npy of labels, e.g. {"source": "dataset", "id": "<id of y.npy>"}`,
    });
  }
  return issues;
}
