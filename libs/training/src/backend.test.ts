import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { selectBackend } from "./backend";

const require = createRequire(import.meta.url);
const installed = (pkg: string) => {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};
const nativeInstalled = installed("@tensorflow/tfjs-node-gpu") || installed("@tensorflow/tfjs-node");

describe("selectBackend", () => {
  it.skipIf(nativeInstalled)(
    "auto skips the absent native packages, says why, and lands on wasm",
    async () => {
      const { name, tf, report } = await selectBackend("auto");
      expect(name).toBe("wasm");
      expect(tf.getBackend()).toBe("wasm");
      expect(report).toEqual([
        "tensorflow-gpu: skipped (package not installed)",
        "tensorflow: skipped (package not installed)",
        "wasm: loaded",
      ]);
      // The backend really computes.
      expect(Array.from(await tf.add(tf.tensor1d([1, 2]), 1).data())).toEqual([2, 3]);
    },
  );

  it("forcing cpu gives cpu", async () => {
    const { name, tf, report } = await selectBackend("cpu");
    expect(name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    expect(report).toEqual(["cpu: loaded"]);
  });

  it.skipIf(installed("@tensorflow/tfjs-node-gpu"))(
    "forcing tensorflow-gpu when it is absent fails saying what to install",
    async () => {
      await expect(selectBackend("tensorflow-gpu")).rejects.toThrow(
        /tensorflow-gpu" is unavailable: package not installed\. To use it: npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/,
      );
    },
  );
});
