import { JOB_STATUSES, type MetricsRow, type TypedJobEvent } from "@plateau/contract";
import { describe, expect, it } from "vitest";
import { JobSeries } from "./series";
import { STATUSES } from "./views/jobs";

const time = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s)).toISOString();
const row = (
  seq: number,
  epoch: number,
  batch: number | null,
  logs: MetricsRow["logs"],
  s = seq,
): MetricsRow => ({
  seq,
  epoch,
  batch,
  logs,
  time: time(s),
});

describe("JobSeries", () => {
  const series = new JobSeries();
  series.addRows("batch", [row(2, 0, 0, { loss: 3 }), row(3, 0, 3, { loss: 2 }), row(6, 1, 3, { loss: 1 })]);
  series.addRows("epoch", [
    row(4, 0, null, { loss: 2, val_loss: 2.5, learning_rate: 0.1, acc: 0.5, val_acc: 0.4 }),
  ]);
  const reduce = {
    seq: 5,
    type: "callback",
    epoch: 0,
    batch: null,
    time: time(5),
    data: { callback: "ReduceLROnPlateau", action: "reduce_lr", details: { from: 0.1, to: 0.05 } },
  } as unknown as TypedJobEvent;
  series.addEvent(reduce);

  it("groups val_ beside train, loss first, the learning rate on its own", () => {
    expect(series.groups("epoch")).toEqual([["loss", "val_loss"], ["acc", "val_acc"], ["learning_rate"]]);
  });

  it("puts rows and markers on the chosen x axis: 1-based epochs, steps, seconds", () => {
    // 4 batches per epoch (the highest batch index recorded is 3).
    expect(series.lines("batch", ["loss"], "epoch")[0].x).toEqual([0.25, 1, 2]);
    expect(series.lines("batch", ["loss"], "step")[0].x).toEqual([1, 4, 8]);
    expect(series.lines("batch", ["loss"], "time")[0].x).toEqual([0, 1, 4]);
    expect(series.markers("epoch")).toEqual([
      { x: 1, kind: "reduce_lr", message: "ReduceLROnPlateau: learning rate 0.1 → 0.05 (epoch 1)" },
    ]);
    expect(series.markers("step")[0].x).toBe(4);
  });

  it("adds a live row once, however often it arrives", () => {
    const live = {
      seq: 7,
      type: "epoch_end",
      epoch: 1,
      batch: null,
      time: time(7),
      data: { logs: { loss: 1 } },
    };
    expect(series.addEvent(live as unknown as TypedJobEvent)).toBe(true);
    series.addRows("epoch", [row(7, 1, null, { loss: 1 })]);
    expect(series.count("epoch")).toBe(2);
    expect(series.addEvent(reduce)).toBe(false);
  });

  it("does not chart again the stream's replay of rows the downsampled history covered", () => {
    const sampled = new JobSeries();
    sampled.addHistory("batch", [row(2, 0, 0, { loss: 3 }), row(9, 0, 7, { loss: 1 })], 9);
    const replayed = {
      seq: 5,
      type: "batch_end",
      epoch: 0,
      batch: 3,
      time: time(5),
      data: { logs: { loss: 2 } },
    };
    expect(sampled.addEvent(replayed as unknown as TypedJobEvent)).toBe(false);
    expect(sampled.addEvent({ ...replayed, seq: 10, batch: 8 } as unknown as TypedJobEvent)).toBe(true);
    expect(sampled.count("batch")).toBe(3);
  });

  it("marks a resume after a lost worker and drops what the lost attempt recorded from its epoch on", () => {
    const resumed = {
      seq: 8,
      type: "resumed",
      epoch: 1,
      batch: null,
      time: time(8),
      data: { attempt: 2, from_epoch: 1, previous: { attempt: 1, ending: "worker_lost" }, rolled_back: 2 },
    };
    series.addEvent(resumed as unknown as TypedJobEvent);
    expect(series.markers("epoch").at(-1)).toEqual({
      kind: "resumed",
      x: 2,
      message: "Attempt 2 resumed from epoch 2 (attempt 1 ended: worker_lost)",
    });
    // Epoch 1's rows (seq 6 and 7) were the lost attempt's; epoch 0's stay, as does the reduction.
    expect(series.lines("batch", ["loss"], "step")[0].y).toEqual([3, 2]);
    expect(series.count("epoch")).toBe(1);
    expect(series.markers("epoch").map((m) => m.kind)).toEqual(["reduce_lr", "resumed"]);
  });
});

it("the status filter offers the contract's statuses", () => {
  expect(STATUSES).toEqual(JOB_STATUSES);
});
