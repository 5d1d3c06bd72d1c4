import { describe, expect, it } from "vitest";
import { fitArgs, hasValidation } from "./fit";
import { SpecError } from "./spec-error";

describe("fitArgs", () => {
  it("ignores Keras's verbose: tfjs never prints, progress is in the job's metrics", () => {
    expect(fitArgs({ epochs: 3, verbose: 2 }).verbose).toBe(0);
  });

  it("refuses fit.validation_data left in place: the effective spec moves it to data.validation", () => {
    const fit = { epochs: 3, validation_data: { source: "builtin" as const, name: "iris" as const } };
    expect(() => fitArgs(fit)).toThrow(SpecError);
    expect(hasValidation(fit)).toBe(true);
  });
});
