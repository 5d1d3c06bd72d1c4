import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../test-api";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

const simulate = (payload: unknown) =>
  api.inject({ method: "POST", url: "/v1/callbacks/simulate", payload: payload as object });

describe("POST /v1/callbacks/simulate", () => {
  it("replays a metric sequence through the callbacks and reports their decisions", async () => {
    const losses = [1, 0.8, 0.8, 0.8, 0.8, 0.8];
    const response = await simulate({
      callbacks: [
        { type: "ReduceLROnPlateau", monitor: "val_loss", factor: 0.5, patience: 1 },
        { type: "EarlyStopping", monitor: "val_loss", patience: 3 },
      ],
      optimizer: { name: "sgd", learning_rate: 0.1 },
      epochs: losses.map((value) => ({ logs: { loss: value, val_loss: value } })),
    });
    expect(response.statusCode).toBe(200);
    const result = response.json();
    expect(result.stopped_epoch).toBe(4);
    // Keras: with patience 1 the rate halves after each epoch without improvement (float32 rates).
    expect(result.epochs.map((e: { learning_rate: number }) => e.learning_rate)).toEqual(
      [0.1, 0.1, 0.1, 0.05, 0.025].map((rate) => expect.closeTo(rate, 6)),
    );
    expect(result.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ callback: "ReduceLROnPlateau", action: "reduce_lr", epoch: 2 }),
        expect.objectContaining({ callback: "EarlyStopping", epoch: 4 }),
      ]),
    );
  });

  it("reports every invalid field with its path", async () => {
    const response = await simulate({
      callbacks: [{ type: "ReduceLROnPlateau", factor: 1.5 }, { type: "Nope" }],
      optimizer: { name: "nope" },
      epochs: [],
    });
    expect(response.statusCode).toBe(400);
    const paths = response.json().details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining(["/callbacks/0/factor", "/callbacks/1/type", "/optimizer/name", "/epochs"]),
    );
  });

  it("refuses at once a checkpoint width no name can hold, and expressions nested too deeply, at their paths", async () => {
    const started = Date.now();
    const response = await simulate({
      callbacks: [
        { type: "ModelCheckpoint", monitor: "loss", filepath: "ckpt-{epoch:0536870000d}" },
        {
          type: "ModelCheckpoint",
          monitor: "loss",
          filepath: "{epoch}-{loss:.9f}-{loss:.9f}-{loss:.9f}-{loss:.9f}-{loss:.9f}",
        },
        { type: "LearningRateScheduler", schedule: `${"-(".repeat(300)}lr${")".repeat(300)}` },
      ],
      epochs: [{ logs: { loss: 1 } }],
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(response.statusCode).toBe(400);
    expect(response.json().details).toEqual([
      {
        path: "/callbacks/0/filepath",
        message:
          "width 536870000 in '{epoch:0536870000d}' is over 128: a checkpoint name has at most 128 characters",
      },
      { path: "/callbacks/1/filepath", message: expect.stringMatching(/^can render to 150 characters/) },
      {
        path: "/callbacks/2/schedule",
        message: "parentheses are nested 300 deep; at most 50 levels are allowed",
      },
    ]);
  });
});
