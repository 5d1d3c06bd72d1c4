import Type from "typebox";
import { describe, expect, it } from "vitest";
import { schemaIssues } from "./index";

const strict = { additionalProperties: false } as const;
const Source = Type.Union([
  Type.Object({ source: Type.Literal("builtin"), name: Type.Literal("iris") }, strict),
  Type.Object(
    {
      source: Type.Literal("builtin"),
      name: Type.Enum(["xor", "spirals"]),
      samples: Type.Optional(Type.Integer({ minimum: 1 })),
    },
    strict,
  ),
  Type.Object(
    {
      source: Type.Literal("inline"),
      x: Type.Array(Type.Array(Type.Number())),
      y: Type.Array(Type.Number()),
    },
    strict,
  ),
]);
const Spec = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    data: Source,
    epochs: Type.Integer({ minimum: 1 }),
    weights: Type.Optional(Type.Record(Type.String({ pattern: "^[0-9]+$" }), Type.Number())),
  },
  strict,
);

describe("schemaIssues", () => {
  it("is empty for a valid value", () => {
    expect(schemaIssues(Spec, { name: "a", data: { source: "builtin", name: "iris" }, epochs: 1 })).toEqual(
      [],
    );
  });

  it("reports every problem once, at its path, naming unknown fields", () => {
    const issues = schemaIssues(Spec, {
      data: { source: "inline", x: [[1, "2"]], y: "a" },
      epochs: 0,
      extra: true,
    });
    expect(issues).toEqual([
      { path: "/name", message: "is required" },
      { path: "/data/x/0/1", message: 'must be a number (got "2")' },
      { path: "/data/y", message: 'must be an array (got "a")' },
      { path: "/epochs", message: "must be >= 1" },
      { path: "/extra", message: "unknown field 'extra'; allowed: name, data, epochs, weights" },
    ]);
  });

  it("narrows a union by its literal fields before reporting", () => {
    const issues = schemaIssues(Spec, {
      name: "a",
      epochs: 1,
      data: { source: "builtin", name: "xor", samples: 0 },
    });
    expect(issues).toEqual([{ path: "/data/samples", message: "must be >= 1" }]);
  });

  it("names the allowed values when no variant matches", () => {
    expect(schemaIssues(Spec, { name: "a", epochs: 1, data: { source: "ftp" } })).toEqual([
      { path: "/data/source", message: 'must be one of "builtin", "inline"' },
    ]);
    expect(schemaIssues(Spec, { name: "a", epochs: 1, data: { source: "builtin", name: "mnist" } })).toEqual([
      { path: "/data/name", message: 'must be one of "iris", "xor", "spirals"' },
    ]);
  });

  it("checks record keys and values", () => {
    const issues = schemaIssues(Spec, {
      name: "a",
      epochs: 1,
      data: { source: "builtin", name: "iris" },
      weights: { "0": "x" },
    });
    expect(issues).toEqual([{ path: "/weights/0", message: 'must be a number (got "x")' }]);
  });
});
