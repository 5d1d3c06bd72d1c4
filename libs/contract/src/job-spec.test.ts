import Value from "typebox/value";
import { describe, expect, it } from "vitest";
import iris from "../../../examples/iris-plateau.json";
import { CompileSpecSchema } from "./compile";
import { DataSpecSchema } from "./data";
import { FitSpecSchema } from "./fit";
import { ModelSpecSchema } from "./model";

// The jobs issue's example spec, part by part.
const example = structuredClone(iris);

describe("job spec schemas", () => {
  it("accept the jobs issue's example", () => {
    expect(Value.Check(ModelSpecSchema, example.model)).toBe(true);
    expect(Value.Check(CompileSpecSchema, example.compile)).toBe(true);
    expect(Value.Check(DataSpecSchema, example.data)).toBe(true);
    expect(Value.Check(FitSpecSchema, example.fit)).toBe(true);
  });

  it("accept the other data sources and a separate validation source", () => {
    for (const data of [
      { source: "builtin", name: "spirals", samples: 300, seed: 4, noise: 0.2 },
      { source: "inline", x: [[0, 1]], y: [1] },
      { source: "uri", uri: "s3://bucket/train.csv", label: "species", features: ["a", "b"] },
      {
        source: "dataset",
        id: "ds_1",
        format: "jsonl",
        label: "y",
        validation: { source: "builtin", name: "xor" },
      },
    ]) {
      expect(Value.Check(DataSpecSchema, data)).toBe(true);
    }
  });

  it("are strict: unknown fields and optimizer parameters are refused", () => {
    expect(Value.Check(FitSpecSchema, { ...example.fit, steps_per_epoch: 3 })).toBe(false);
    expect(
      Value.Check(CompileSpecSchema, { ...example.compile, optimizer: { name: "adam", momentum: 0.9 } }),
    ).toBe(false);
    expect(Value.Check(CompileSpecSchema, { ...example.compile, optimizer: "sgd" })).toBe(true);
    expect(Value.Check(DataSpecSchema, { source: "builtin", name: "iris", samples: 10 })).toBe(false);
    expect(Value.Check(ModelSpecSchema, { layers: example.model.layers, keras_json: "{}" })).toBe(false);
    expect(Value.Check(FitSpecSchema, { epochs: 5, class_weight: { setosa: 1 } })).toBe(false);
    expect(Value.Check(FitSpecSchema, { epochs: 5, validation_split: 1 })).toBe(false);
  });

  it("describe their fields for the OpenAPI document", () => {
    expect((FitSpecSchema.properties.validation_split as { description?: string }).description).toMatch(
      /held out for validation/,
    );
    const [lossNames] = (CompileSpecSchema.properties.loss as unknown as { anyOf: { enum: string[] }[] })
      .anyOf;
    expect(lossNames.enum).toContain("sparse_categorical_crossentropy");
  });
});
