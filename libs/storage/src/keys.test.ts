import { CHECKPOINT_NAME_MAX_LENGTH } from "@plateau/contract";
import { describe, expect, it } from "vitest";
import {
  checkpointPrefix,
  datasetKey,
  fileKey,
  InvalidKeyPartError,
  jobPrefix,
  resumePrefix,
  topologyKey,
} from "./keys";

const id = "0b6f7c1e-3a55-4c2e-9d0b-6a1f2e3d4c5b";

describe("key layout", () => {
  it("holds checkpoint names of up to CHECKPOINT_NAME_MAX_LENGTH characters, the bound validation relies on", () => {
    expect(checkpointPrefix(id, "a".repeat(CHECKPOINT_NAME_MAX_LENGTH))).toContain("a".repeat(128));
    expect(() => checkpointPrefix(id, "a".repeat(CHECKPOINT_NAME_MAX_LENGTH + 1))).toThrow(
      InvalidKeyPartError,
    );
  });

  it("places checkpoints, resume state and datasets under their documented prefixes", () => {
    expect(fileKey(checkpointPrefix(id, "best"), "model.json")).toBe(
      `jobs/${id}/checkpoints/best/model.json`,
    );
    expect(fileKey(resumePrefix(id), "state.json")).toBe(`jobs/${id}/resume/state.json`);
    expect(datasetKey(id, "train.csv")).toBe(`datasets/${id}/train.csv`);
    expect(topologyKey(id)).toBe(`jobs/${id}/topology.json`);
  });

  it("accepts names formatted from Keras filepaths such as weights.{epoch:02d}-{val_loss:.2f}", () => {
    expect(checkpointPrefix(id, "weights.07-0.42")).toBe(`jobs/${id}/checkpoints/weights.07-0.42/`);
  });

  it.each(["..", ".", "../other", "a/b", "", "best/../../x", " best", "x".repeat(129), "naïve"])(
    "rejects the name %j",
    (name) => {
      expect(() => checkpointPrefix(id, name)).toThrow(InvalidKeyPartError);
      expect(() => datasetKey(id, name)).toThrow(InvalidKeyPartError);
    },
  );

  it("rejects ids that are not UUIDs", () => {
    expect(() => jobPrefix("../../etc")).toThrow(InvalidKeyPartError);
    expect(() => jobPrefix(id.toUpperCase())).toThrow(InvalidKeyPartError);
    expect(() => topologyKey("../../etc")).toThrow(InvalidKeyPartError);
  });
});
