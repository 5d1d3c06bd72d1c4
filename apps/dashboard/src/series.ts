import type { MetricsRow, TypedJobEvent } from "@plateau/contract";
import type { Line, Marker } from "./chart";
import { formatNumber } from "./dom";

export type XAxis = "epoch" | "step" | "time";
export type Level = "epoch" | "batch";

export const X_LABELS: Record<XAxis, string> = {
  epoch: "epoch",
  step: "step (batches)",
  time: "seconds since start",
};

/** The learning rate gets a chart (and axis) of its own. */
export const LEARNING_RATE = "learning_rate";

/**
 * A job's metric rows and callback markers as they arrive (history first, then live), kept in seq
 * order, and turned into chart lines for an x axis: epochs 1-based as Keras prints them, steps counted
 * in batches, or seconds since the first row.
 */
export class JobSeries {
  private readonly rows: Record<Level, MetricsRow[]> = { epoch: [], batch: [] };
  private readonly events: TypedJobEvent[] = [];
  private readonly seen = new Set<number>();
  /** Rows up to this seq came downsampled; the stream's replay of them is not charted again. */
  private readonly sampledUntil: Record<Level, number> = { epoch: 0, batch: 0 };

  /** A downsampled history (GET /metrics?max_points) covering every row up to `until`. */
  addHistory(level: Level, rows: MetricsRow[], until: number): void {
    this.addRows(level, rows);
    this.sampledUntil[level] = Math.max(this.sampledUntil[level], until);
  }

  addRows(level: Level, rows: MetricsRow[]): void {
    for (const row of rows) {
      if (this.seen.has(row.seq)) continue;
      this.seen.add(row.seq);
      this.rows[level].push(row);
    }
    this.rows[level].sort((a, b) => a.seq - b.seq);
  }

  /** A live event: a metric row, or something to mark. Returns whether it changed the charts. */
  addEvent(event: TypedJobEvent): boolean {
    if (event.type === "epoch_end" || event.type === "batch_end") {
      const level = event.type === "epoch_end" ? "epoch" : "batch";
      if (event.seq <= this.sampledUntil[level]) return false;
      this.addRows(level, [
        { seq: event.seq, epoch: event.epoch, batch: event.batch, logs: event.data.logs, time: event.time },
      ]);
      return true;
    }
    if (this.seen.has(event.seq)) return false;
    this.seen.add(event.seq);
    if ((event.type as string) === "resumed") this.rollBack(event.seq, resumedOf(event));
    this.events.push(event);
    return markerOf(event) !== null;
  }

  /**
   * A resumed attempt continues from a snapshot in epoch `from_epoch`: what earlier attempts recorded after
   * it is no longer the job's history (libs/contract's ResumedData), so it leaves the charts.
   */
  private rollBack(beforeSeq: number, { from_epoch: fromEpoch = 0, after_seq: afterSeq = 0 }: Resumed): void {
    const kept = (at: { seq: number; epoch: number | null }) =>
      at.seq > beforeSeq || (at.epoch ?? 0) < fromEpoch || (at.epoch === fromEpoch && at.seq <= afterSeq);
    this.rows.epoch = this.rows.epoch.filter(kept);
    this.rows.batch = this.rows.batch.filter(kept);
    this.events.splice(0, this.events.length, ...this.events.filter(kept));
  }

  count(level: Level): number {
    return this.rows[level].length;
  }

  /** Metric names grouped per chart: `loss` with `val_loss`, `acc` with `val_acc`; learning rate alone. */
  groups(level: Level): string[][] {
    const names = new Set<string>();
    for (const row of this.rows[level]) for (const name of Object.keys(row.logs)) names.add(name);
    const groups = new Map<string, string[]>();
    for (const name of [...names].sort()) {
      const base = name.startsWith("val_") ? name.slice(4) : name;
      groups.set(base, [...(groups.get(base) ?? []), name]);
    }
    return [...groups.entries()]
      .sort(([a], [b]) => (a === "loss" ? -1 : b === "loss" ? 1 : a.localeCompare(b)))
      .map(([, members]) =>
        members.sort((a, b) => (a.startsWith("val_") ? 1 : 0) - (b.startsWith("val_") ? 1 : 0)),
      );
  }

  lines(level: Level, names: string[], axis: XAxis): Line[] {
    const rows = this.rows[level];
    const x = rows.map((row) => this.xOf(row, axis));
    return names.map((name) => ({
      label: name,
      x,
      y: rows.map((row) => {
        const value = row.logs[name];
        return typeof value === "number" ? value : null;
      }),
    }));
  }

  markers(axis: XAxis): Marker[] {
    return this.events.flatMap((event) => {
      const marker = markerOf(event);
      if (marker === null) return [];
      return [{ ...marker, x: this.xOf({ epoch: event.epoch, batch: event.batch, time: event.time }, axis) }];
    });
  }

  /** Runs of the job: one per `running` status (a resumed job has several). */
  attempts(): number {
    return this.events.filter((e) => e.type === "status" && e.data.status === "running").length;
  }

  private startMs(): number {
    const first = [...this.rows.epoch.slice(0, 1), ...this.rows.batch.slice(0, 1)].map((row) =>
      Date.parse(row.time),
    );
    return first.length > 0 ? Math.min(...first) : 0;
  }

  /** Batches per epoch, from the highest batch index recorded (1 when no batch rows were recorded). */
  private stepsPerEpoch(): number {
    let most = -1;
    for (const row of this.rows.batch) most = Math.max(most, row.batch ?? -1);
    return most + 1 || 1;
  }

  private xOf(at: { epoch: number | null; batch: number | null; time: string }, axis: XAxis): number {
    const epoch = at.epoch ?? 0;
    if (axis === "time") return (Date.parse(at.time) - this.startMs()) / 1000;
    const steps = this.stepsPerEpoch();
    // An epoch's row is its end: after all its batches. A batch row is after batch + 1 steps.
    const done = at.batch === null ? steps : at.batch + 1;
    return axis === "step" ? epoch * steps + done : epoch + done / steps;
  }
}

/** What a chart marks for an event, or null for events that are not a callback acting. */
export function markerOf(event: TypedJobEvent): Omit<Marker, "x"> | null {
  const at = `epoch ${(event.epoch ?? 0) + 1}${event.batch !== null ? `, batch ${event.batch}` : ""}`;
  const type = event.type as string;
  if (type === "resumed") {
    const { attempt, from_epoch: from, from_batch: batch, previous } = resumedOf(event);
    const ending = previous?.ending ? ` (attempt ${previous.attempt} ended: ${previous.ending})` : "";
    const where = `epoch ${(from ?? 0) + 1}${batch ? `, batch ${batch}` : ""}`;
    return { kind: "resumed", message: `Attempt ${attempt} resumed from ${where}${ending}` };
  }
  if (event.type === "checkpoint") {
    const { name, monitor, value, is_best: best } = event.data;
    const measured = monitor ? ` (${monitor} ${formatNumber(value)})` : "";
    return {
      kind: "checkpoint",
      message: `${best ? "Best checkpoint" : "Checkpoint"} saved: ${name}${measured}, ${at}`,
    };
  }
  if (event.type !== "callback") return null;
  const { callback, action, details } = event.data;
  if (action === "reduce_lr" || action === "set_lr") {
    const { from, to } = details as { from?: number; to?: number };
    return {
      kind: action,
      message: `${callback}: learning rate ${formatNumber(from)} → ${formatNumber(to)} (${at})`,
    };
  }
  if (action === "early_stop")
    return { kind: "early_stop", message: `${callback}: stopped training (${at}) ${detailsText(details)}` };
  if (action === "nan")
    return { kind: "nan", message: `${callback}: loss is ${details.value ?? "NaN"} (${at})` };
  if (action === "checkpoint") return null; // the checkpoint event that follows says it with the stored name
  return { kind: action, message: `${callback}: ${action} (${at}) ${detailsText(details)}`.trim() };
}

function detailsText(details: Record<string, unknown>): string {
  const parts = Object.entries(details).map(
    ([key, value]) => `${key} ${typeof value === "number" ? formatNumber(value) : JSON.stringify(value)}`,
  );
  return parts.length > 0 ? `— ${parts.join(", ")}` : "";
}

/** A `resumed` event's data (libs/contract's ResumedData), read defensively. */
interface Resumed {
  attempt?: number;
  from_epoch?: number;
  from_batch?: number;
  after_seq?: number;
  previous?: { attempt: number; ending: string | null };
}

function resumedOf(event: TypedJobEvent): Resumed {
  return event.data as never;
}
