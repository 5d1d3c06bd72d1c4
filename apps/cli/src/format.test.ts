import { type CallbackEvent, simulate } from "@plateau/callbacks";
import type { JobSummary, SimulationInput, TypedJobEvent as StoredEvent } from "@plateau/contract";
import { describe, expect, it } from "vitest";
import { decisionLine, epochLine, eventLine, jobTable, num, outcomeLine } from "./format";

/**
 * The decisions are the real events of @plateau/callbacks (its dry run), so these tests break when a
 * callback's payload changes shape under the CLI, not only when the CLI's wording does.
 */
async function decisions(input: SimulationInput): Promise<string[]> {
  const { events } = await simulate(input);
  return events.map((event: CallbackEvent) => decisionLine(event, event.epoch, event.batch ?? null));
}

const plateau = [1, 0.9, 0.95, 0.96, 0.97].map((loss) => ({ logs: { loss } }));

describe("decision lines", () => {
  it("ReduceLROnPlateau names the old and new rate, the wait and the best value", async () => {
    const lines = await decisions({
      optimizer: { name: "adam", learning_rate: 0.01 },
      callbacks: [{ type: "ReduceLROnPlateau", monitor: "loss", factor: 0.2, patience: 2, min_lr: 0.001 }],
      epochs: plateau,
    });
    expect(lines[0]).toBe("ReduceLROnPlateau: lr 0.01 → 0.002 (wait 2, best 0.9)");
  });

  it("EarlyStopping names the epoch it stopped at and the best epoch, 1-based as Keras prints them", async () => {
    const lines = await decisions({
      callbacks: [{ type: "EarlyStopping", monitor: "loss", patience: 2, restore_best_weights: true }],
      epochs: plateau,
    });
    expect(lines).toEqual([
      "EarlyStopping: stopped at epoch 4 (best epoch 2)",
      "EarlyStopping: restored the weights of epoch 2",
    ]);
  });

  it("TerminateOnNaN names the value, the epoch and the batch", async () => {
    const lines = await decisions({
      callbacks: [{ type: "TerminateOnNaN" }],
      epochs: [
        { logs: { loss: 1 } },
        { logs: { loss: Number.NaN }, batches: [{ loss: 0.9 }, { loss: 0.8 }, { loss: Number.NaN }] },
      ],
    });
    expect(lines).toEqual(["TerminateOnNaN: loss NaN at epoch 2 batch 2"]);
  });

  it("ModelCheckpoint names the file, the epoch and the monitored value", async () => {
    const lines = await decisions({
      callbacks: [
        { type: "ModelCheckpoint", monitor: "loss", save_best_only: true, filepath: "best-{epoch:02d}" },
      ],
      epochs: plateau.slice(0, 3),
    });
    expect(lines).toEqual([
      "ModelCheckpoint: saved best-01 at epoch 1, monitored value 1 (new best)",
      "ModelCheckpoint: saved best-02 at epoch 2, monitored value 0.9 (new best)",
    ]);
  });

  it("an action the CLI has no wording for still shows its callback, action and details", () => {
    const line = decisionLine({ callback: "Custom", action: "warm_up", details: { steps: 3 } }, 0, null);
    expect(line).toBe('Custom: warm_up at epoch 1 {"steps":3}');
  });
});

describe("epoch lines", () => {
  it("show loss, then the training metrics, then their validation twins, then the learning rate", () => {
    const logs = {
      val_acc: 0.8667,
      acc: 0.85,
      learning_rate: 0.009999999776482582,
      val_loss: 0.49812,
      loss: 0.51234,
    };
    expect(epochLine(2, 50, logs)).toBe(
      "epoch 3/50  loss 0.5123  acc 0.85  val_loss 0.4981  val_acc 0.8667  lr 0.01",
    );
  });

  it("show a non-finite value (null in JSON) as NaN", () => {
    expect(epochLine(0, 5, { loss: null })).toBe("epoch 1/5  loss NaN");
    expect(num(1e-7)).toBe("1e-7");
  });
});

describe("followed events", () => {
  const event = (type: StoredEvent["type"], data: unknown, epoch: number | null = null) =>
    ({ seq: 1, type, epoch, batch: null, data, time: "2025-01-01T00:00:00Z" }) as StoredEvent;

  it("print epochs, decisions and the running status; stored checkpoints and batches print nothing", () => {
    expect(eventLine(event("epoch_end", { logs: { loss: 0.5, learning_rate: 0.01 } }, 0), 10)).toBe(
      "epoch 1/10  loss 0.5  lr 0.01",
    );
    expect(
      eventLine(
        event(
          "callback",
          { callback: "EarlyStopping", action: "early_stop", details: { stopped_epoch: 22, best_epoch: 17 } },
          22,
        ),
        50,
      ),
    ).toBe("EarlyStopping: stopped at epoch 23 (best epoch 18)");
    expect(eventLine(event("status", { status: "running", backend: "wasm", worker: "w-1" }), 10)).toBe(
      "running (backend wasm, worker w-1)",
    );
    expect(eventLine(event("batch_end", { logs: { loss: 0.5 } }, 0), 10)).toBeNull();
    const stored = {
      id: "c1",
      name: "epoch-0013",
      monitor: "val_acc",
      value: 0.9,
      is_best: true,
      weights_only: true,
      size_bytes: 2412,
    };
    expect(eventLine(event("checkpoint", stored, 12), 50)).toBeNull();
  });
});

const job: JobSummary = {
  id: "6f1c1b7e-2d7a-4a4e-9a52-3f0f8e1d2c11",
  name: "iris-plateau",
  status: "succeeded",
  stop_reason: "early_stopping",
  stop_details: null,
  epoch: 22,
  epochs: 50,
  learning_rate: 0.002,
  best: { monitor: "val_acc", value: 0.9667, epoch: 17 },
  backend: "wasm",
  worker: "w-1",
  created_at: "2025-01-01T00:00:00.000Z",
  started_at: "2025-01-01T00:00:01.000Z",
  finished_at: "2025-01-01T00:00:09.000Z",
  error: null,
  submitted_by: null,
  cancelled_by: null,
};

describe("outcomes", () => {
  it("say why a job ended", () => {
    expect(outcomeLine(job)).toBe("succeeded: stopped early after epoch 23 of 50");
    expect(
      outcomeLine({
        ...job,
        status: "cancelled",
        stop_reason: "nan_loss",
        stop_details: { epoch: 2, batch: 7, value: "NaN" },
      }),
    ).toBe("cancelled: loss became NaN at epoch 3 batch 7");
    expect(
      outcomeLine({ ...job, status: "failed", stop_reason: "error", error: "column 'label' not found" }),
    ).toBe("failed: column 'label' not found");
  });

  it("list jobs in aligned columns", () => {
    const lines = jobTable([job, { ...job, id: "x", status: "queued", stop_reason: null, epoch: null }]);
    expect(lines[0]).toMatch(/^ID +STATUS +STOP_REASON +EPOCH +CREATED +NAME$/);
    expect(lines[1].indexOf("succeeded")).toBe(lines[0].indexOf("STATUS"));
    expect(lines[2]).toContain("queued");
    expect(lines[2]).toContain("-/50");
  });
});
