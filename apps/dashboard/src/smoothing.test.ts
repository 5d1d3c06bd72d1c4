import { describe, expect, it } from "vitest";
import { smooth } from "./smoothing";

describe("smooth (TensorBoard's debiased EMA)", () => {
  it("starts at the first value instead of being pulled toward zero", () => {
    expect(smooth([10, 10, 10], 0.9)).toEqual([10, 10, 10].map((v) => expect.closeTo(v, 12)));
  });

  it("follows TensorBoard's formula step by step", () => {
    const w = 0.6;
    const [a, b] = [1, 3];
    const second = (w * (1 - w) * a + (1 - w) * b) / (1 - w ** 2);
    const smoothed = smooth([a, b], w);
    expect(smoothed[0]).toBeCloseTo(a, 12);
    expect(smoothed[1]).toBeCloseTo(second, 12);
  });

  it("is the raw series at weight 0 and lags behind a jump at 0.999", () => {
    expect(smooth([1, 5, 2], 0)).toEqual([1, 5, 2]);
    const slow = smooth([...Array(10).fill(0), ...Array(10).fill(1)], 0.999);
    expect(slow.at(-1)).toBeGreaterThan(0.4);
    expect(slow.at(-1)).toBeLessThan(0.6);
  });

  it("passes gaps and non-finite values through without letting them into the average", () => {
    expect(smooth([2, null, Number.NaN, 2], 0.5)).toEqual([2, null, Number.NaN, 2]);
  });
});
