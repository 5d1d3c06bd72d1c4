import { MAX_LAYERS } from "@plateau/contract";
import { describe, expect, it } from "vitest";
import { checkModel } from "./model";

type Ref = [string, number, number, Record<string, never>];
const input = {
  class_name: "InputLayer",
  name: "in",
  config: { batch_input_shape: [null, 4] },
  inbound_nodes: [],
};
const dense = (name: string, ...nodes: Ref[][]) => ({
  class_name: "Dense",
  name,
  config: { units: 2 },
  inbound_nodes: nodes,
});
const ref = (layer: string, node = 0, tensor = 0): Ref => [layer, node, tensor, {}];
const functional = (layers: unknown[], output = "out") => ({
  keras_json: {
    class_name: "Functional",
    config: { name: "m", layers, input_layers: [["in", 0, 0]], output_layers: [[output, 0, 0]] },
  },
});
const at = (i: number, node = 0) => `/model/keras_json/config/layers/${i}/inbound_nodes/${node}`;

describe("Functional graphs tfjs could never wire are refused before tfjs sees them", () => {
  it("accepts a shared layer called twice in order", () => {
    const shared = dense("shared", [ref("in")], [ref("shared", 0)]);
    expect(checkModel(functional([input, shared], "shared"))).toEqual([]);
  });

  it.each([
    ["a layer that is its own input", [input, dense("out", [ref("out")])], [at(1)], /cycle/],
    [
      "two layers feeding each other",
      [input, dense("a", [ref("out")]), dense("out", [ref("a")])],
      [at(1), at(2)],
      /cycle/,
    ],
    [
      "a shared layer whose first call needs its second",
      [input, dense("out", [ref("m")], [ref("in")]), dense("m", [ref("out", 1)])],
      [at(1, 0), at(1, 1), at(2)],
      /cycle/,
    ],
    ["a reference to a node that never exists", [input, dense("out", [ref("in", 3)])], [at(1)], /no node 3/],
    ["a negative tensor index", [input, dense("out", [ref("in", 0, -1)])], [at(1)], /no tensor -1/],
    ["an unknown layer", [input, dense("out", [ref("ghost")])], [at(1)], /unknown layer "ghost"/],
    ["a call with no inputs", [input, dense("out", [])], [at(1)], /names no input tensor/],
  ])("%s", (_, layers, paths, message) => {
    const issues = checkModel(functional(layers));
    expect(issues.map((issue) => issue.path).sort()).toEqual([...paths].sort());
    for (const issue of issues) expect(issue.message).toMatch(message);
  });

  it("refuses an output that names a node the layer never gets", () => {
    const spec = functional([input, dense("out", [ref("in")])]);
    spec.keras_json.config.output_layers = [["out", 1, 0]];
    expect(checkModel(spec)).toEqual([
      {
        path: "/model/keras_json/config/output_layers",
        message: expect.stringMatching(/"out" has no node 1/),
      },
    ]);
  });

  it("refuses two layers with one name", () => {
    const issues = checkModel(functional([input, dense("out", [ref("in")]), dense("out", [ref("in")])]));
    expect(issues).toEqual([
      { path: "/model/keras_json/config/layers/2/name", message: 'another layer is already named "out"' },
    ]);
  });

  it(`refuses more than ${MAX_LAYERS} layers without converting any`, () => {
    const chain = Array.from({ length: MAX_LAYERS + 1 }, (_, i) =>
      dense(`d${i}`, [ref(i ? `d${i - 1}` : "in")]),
    );
    expect(checkModel(functional([input, ...chain]))).toEqual([
      { path: "/model/keras_json/config/layers", message: expect.stringMatching(/at most 1000/) },
    ]);
    const sequential = { class_name: "Sequential", config: { layers: chain } };
    expect(checkModel({ keras_json: sequential })).toEqual([
      { path: "/model/keras_json/config/layers", message: expect.stringMatching(/at most 1000/) },
    ]);
  });

  it("checks a long chain in linear time", () => {
    const chain = Array.from({ length: MAX_LAYERS - 1 }, (_, i) =>
      dense(i === MAX_LAYERS - 2 ? "out" : `d${i}`, [ref(i ? `d${i - 1}` : "in")]),
    );
    expect(checkModel(functional([input, ...chain]))).toEqual([]);
  });
});
