import type { DbClient } from "./client";

export interface DownsampledRow {
  seq: number;
  epoch: number | null;
  batch: number | null;
  createdAt: Date;
  /** Only the series for which this row is a kept point. */
  logs: Record<string, number>;
}

export interface DownsampledMetrics {
  rows: DownsampledRow[];
  /** The last seq the sample covers (rows of the type after `after`), or null when there were none. */
  lastSeq: number | null;
}

/**
 * A job's metric rows of one type after `after`, at most `maxPoints` points per series (each key of the
 * logs), chosen in Postgres so a 100k-row job never crosses the wire whole. Up to `maxPoints` rows: all of
 * them. Beyond: the seq range is cut into `maxPoints / 2` equal buckets, and in each bucket every
 * series keeps its minimum and its maximum (min/max-preserving, so spikes survive). Non-numeric values
 * (a NaN stored as null) are no points. A row holds only the series it is a point of.
 */
export async function downsampledMetrics(
  db: DbClient,
  jobId: string,
  options: { type: "epoch_end" | "batch_end"; after: number; maxPoints: number },
): Promise<DownsampledMetrics> {
  const { type, after, maxPoints } = options;
  // Fixed first, so rows written while the sample is taken wait for the next call (after = lastSeq).
  const [range] = await db.$queryRaw<{ first: number | null; last: number | null; n: bigint }[]>`
    SELECT min(seq) AS first, max(seq) AS last, count(*) AS n
    FROM job_events WHERE job_id = ${jobId}::uuid AND type = ${type} AND seq > ${after}::int`;
  if (range.first === null || range.last === null) return { rows: [], lastSeq: null };
  // Buckets are equal ranges of seq (other event types between rows make them a little uneven), which
  // needs no numbering of the rows: no sort, no window. Each keeps ≤ 2 points per series.
  const buckets =
    Number(range.n) <= maxPoints ? range.last - range.first + 1 : Math.max(1, Math.floor(maxPoints / 2));
  const span = range.last - range.first + 1;
  // min(ARRAY[value, seq]) is the lowest value with its seq (ties: the earliest row) in one hash
  // aggregate, without sorting every point; max(ARRAY[value, -seq]) likewise the highest.
  const rows = await db.$queryRaw<
    {
      seq: number;
      epoch: number | null;
      batch: number | null;
      created_at: Date;
      logs: Record<string, number>;
    }[]
  >`
    WITH points AS (
      SELECT (e.seq - ${range.first}::int)::bigint * ${buckets}::int / ${span}::int AS bucket,
             kv.key, (kv.value #>> '{}')::float8 AS v, e.seq::float8 AS seq
      FROM job_events e, jsonb_each(e.data -> 'logs') kv
      WHERE e.job_id = ${jobId}::uuid AND e.type = ${type} AND e.seq > ${after}::int AND e.seq <= ${range.last}::int
        AND e.superseded_by IS NULL AND jsonb_typeof(kv.value) = 'number'
    ),
    extremes AS (
      SELECT key, min(ARRAY[v, seq]) AS lo, max(ARRAY[v, -seq]) AS hi FROM points GROUP BY bucket, key
    ),
    kept AS (
      SELECT key, lo[2]::int AS seq, lo[1] AS v FROM extremes
      UNION
      SELECT key, (-hi[2])::int AS seq, hi[1] AS v FROM extremes
    )
    SELECT e.seq, e.epoch, e.batch, e.created_at, jsonb_object_agg(k.key, k.v) AS logs
    FROM kept k JOIN job_events e ON e.job_id = ${jobId}::uuid AND e.seq = k.seq
    GROUP BY e.seq, e.epoch, e.batch, e.created_at
    ORDER BY e.seq`;
  return {
    rows: rows.map((row) => ({
      seq: row.seq,
      epoch: row.epoch,
      batch: row.batch,
      createdAt: row.created_at,
      logs: row.logs,
    })),
    lastSeq: range.last,
  };
}
