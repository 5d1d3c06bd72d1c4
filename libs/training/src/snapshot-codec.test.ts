import { afterEach, describe, expect, it } from "vitest";
import { SeededRandom } from "./random";
import { decodeSnapshot, encodeSnapshot } from "./snapshot-codec";

const unseeded = Math.random;
afterEach(() => {
  Math.random = unseeded;
});

describe("resume snapshot encoding", () => {
  it("gives back every tensor, callback state and the random generator's position", () => {
    const random = new SeededRandom(7);
    const snapshot = {
      state: {
        epoch: 3,
        // Taken inside epoch 3, after 5 of its batches.
        batch: 5,
        totals: { seen: 80, sums: { loss: 31.25, acc: 74.0000076 } },
        learningRate: 0.0025,
        weights: [
          {
            name: "dense/kernel",
            shape: [2, 3],
            dtype: "float32" as const,
            values: Float32Array.of(1, -2, 3.5, 4, 5, 6e-8),
          },
          { name: "mask", shape: [3], dtype: "bool" as const, values: Uint8Array.of(1, 0, 1) },
        ],
        optimizer: [{ name: "iter", shape: [], dtype: "int32" as const, values: Int32Array.of(42) }],
        callbacks: [
          { wait: 2, best: 0.31 },
          { wait: 0, best: 0 },
        ],
        order: Int32Array.of(2, 0, 1),
      },
      random: random.state(),
    };
    const decoded = decodeSnapshot(encodeSnapshot(snapshot));
    expect(decoded).toEqual(snapshot);
    // The restored generator continues where the saved one stood.
    const next = (state: typeof snapshot.random) => {
      const generator = new SeededRandom(7, state);
      generator.install();
      return [Math.random(), Math.random()];
    };
    expect(next(decoded.random)).toEqual(next(snapshot.random));
  });

  it("refuses bytes that are not a snapshot, or are cut short", () => {
    expect(() => decodeSnapshot(new TextEncoder().encode("{}"))).toThrow(/not a Plateau resume snapshot/);
    const bytes = encodeSnapshot({
      state: {
        epoch: 1,
        learningRate: 0.1,
        weights: [{ name: "w", shape: [4], dtype: "float32", values: new Float32Array(4) }],
        optimizer: [],
        callbacks: [],
      },
      random: new SeededRandom(1).state(),
    });
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
  });
});
