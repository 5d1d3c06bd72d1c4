import { type DataSource, type FileFormat, type Issue, pointerToken } from "@plateau/contract";
import type { Dataset } from "@plateau/db";
import { dataSourceIssues } from "@plateau/training/checks";

type DatasetSource = Extract<DataSource, { source: "dataset" }>;

/** An .npy/.npz upload's arrays as stored in the row's `columns`; a CSV/JSONL's are column names. */
export type StoredArray = {
  name: string;
  dtype: string;
  shape: number[];
};

/** The names a dataset row's `columns` hold: CSV/JSONL columns, or an .npy/.npz's array names. */
export function columnNames(dataset: Pick<Dataset, "columns">): string[] {
  return (dataset.columns as (string | StoredArray)[]).map((column) =>
    typeof column === "string" ? column : column.name,
  );
}

/**
 * A `dataset` source's fields against the uploaded file: the ones its format takes (label and features
 * for CSV/JSONL, arrays for .npz, y for .npy), and the columns or arrays they name.
 */
export function datasetSourceIssues(dataset: Dataset, source: DatasetSource, path: string): Issue[] {
  const format = (source.format ?? dataset.format) as FileFormat;
  const fields = dataSourceIssues({ ...source, format }, path);
  if (fields.length > 0) return fields;
  if (format === "npy") return [];
  const columns = columnNames(dataset);
  const named: [string, string][] =
    format === "npz"
      ? [
          ...(typeof source.arrays?.x === "object"
            ? Object.entries(source.arrays.x).map(([input, name]): [string, string] => [
                `/arrays/x/${pointerToken(input)}`,
                name,
              ])
            : [["/arrays/x", source.arrays?.x ?? "x"] as [string, string]]),
          ["/arrays/y", source.arrays?.y ?? "y"],
        ]
      : [
          ...[source.label ?? []]
            .flat()
            .map((column, i): [string, string] => [
              Array.isArray(source.label) ? `/label/${i}` : "/label",
              column,
            ]),
          ...(source.features ?? []).map((column, i): [string, string] => [`/features/${i}`, column]),
        ];
  const kind = format === "npz" ? "array" : "column";
  return named
    .filter(([, name]) => !columns.includes(name))
    .map(([at, name]) => ({
      path: `${path}${at}`,
      message: `${kind} '${name}' is not in dataset ${dataset.filename}; its ${kind}s are: ${columns.join(", ")}`,
    }));
}
