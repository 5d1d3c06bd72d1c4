import { type Issue, MAX_LAYERS, MAX_TENSOR_REFS } from "@plateau/contract";
import { isObject, type JsonObject, toTfjsLayer } from "./keras-config";

type TensorRef = [string, number, number, JsonObject];

function isHistory(value: unknown): value is [string, number, number] {
  return (
    Array.isArray(value) &&
    value.length >= 3 &&
    typeof value[0] === "string" &&
    typeof value[1] === "number" &&
    typeof value[2] === "number"
  );
}

/** Every tensor a Keras 3 call's args name, in order (a merge layer's args hold a list of them). */
function keras3Refs(value: unknown, out: TensorRef[]): void {
  if (Array.isArray(value)) {
    for (const item of value) keras3Refs(item, out);
  } else if (isObject(value)) {
    const history = isObject(value.config) ? value.config.keras_history : undefined;
    if (value.class_name === "__keras_tensor__" && isHistory(history)) {
      out.push([history[0], history[1], history[2], {}]);
    } else {
      for (const item of Object.values(value)) keras3Refs(item, out);
    }
  }
}

/**
 * A Keras inbound node in tfjs's (Keras 2) form: a list of `[layer, node, tensor, kwargs]`. Keras 2 writes
 * that already; Keras 3 writes `{"args": [...__keras_tensor__...], "kwargs": {}}`.
 */
function toKeras2Node(node: unknown): TensorRef[] | null {
  if (isObject(node) && "args" in node) {
    const refs: TensorRef[] = [];
    keras3Refs(node.args, refs);
    return refs.length > 0 ? refs : null;
  }
  if (!Array.isArray(node) || !node.every(isHistory)) return null;
  return node.map((ref: unknown[]) => [
    ref[0] as string,
    ref[1] as number,
    ref[2] as number,
    isObject(ref[3]) ? ref[3] : {},
  ]);
}

/** Keras 3 writes a single model input or output as a bare `[layer, node, tensor]`. */
function toRefList(value: unknown): [string, number, number][] | null {
  if (isHistory(value)) return [[value[0], value[1], value[2]]];
  if (Array.isArray(value) && value.every(isHistory)) return value.map((ref) => [ref[0], ref[1], ref[2]]);
  return null;
}

type GraphLayer = { name: string; path: string; isInput: boolean; nodes: (TensorRef[] | null)[] };

/** Why a `[layer, node, tensor]` reference names nothing that will exist, or null when it does. */
function refProblem(ref: readonly [string, number, number, ...unknown[]], nodeCount: Map<string, number>) {
  const [layer, node, tensor] = ref;
  const count = nodeCount.get(layer);
  if (count === undefined) return `unknown layer "${layer}"`;
  if (!Number.isInteger(node) || node < 0 || node >= count || !Number.isInteger(tensor) || tensor < 0) {
    return `layer "${layer}" has no node ${node} (it has ${count}) or no tensor ${tensor}`;
  }
  return null;
}

/**
 * Checks that tfjs can wire the graph: every reference names a node that exists, and no node waits on
 * itself. tfjs resolves a Functional config by re-scanning until every node's inputs exist, so a cycle
 * or a dangling reference would spin forever; here it is a linear pass (Kahn's algorithm over nodes,
 * each node also after its layer's previous one, as tfjs numbers a layer's nodes in call order).
 * Returns how many nodes each layer will have.
 */
function graphIssues(graph: GraphLayer[], issues: Issue[]): Map<string, number> {
  const nodeCount = new Map<string, number>();
  let refs = 0;
  for (const layer of graph) {
    if (layer.isInput && layer.nodes.length > 0) {
      issues.push({ path: `${layer.path}/inbound_nodes`, message: "an InputLayer has no inbound nodes" });
    }
    nodeCount.set(layer.name, layer.isInput ? 1 : layer.nodes.length);
    refs += layer.nodes.reduce((sum, node) => sum + (node?.length ?? 0), 0);
  }
  if (refs > MAX_TENSOR_REFS) {
    issues.push({
      path: graph[0]?.path.replace(/\/\d+$/, "") ?? "",
      message: `the layers' inbound nodes name ${refs} tensors; at most ${MAX_TENSOR_REFS} are accepted`,
    });
    return nodeCount;
  }
  const id = (layer: string, node: number) => `${layer}\u0000${node}`;
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  const ready: string[] = [];
  const where = new Map<string, string>();
  for (const layer of graph) {
    if (layer.isInput) ready.push(id(layer.name, 0));
    if (layer.isInput) continue;
    layer.nodes.forEach((node, n) => {
      const self = id(layer.name, n);
      const path = `${layer.path}/inbound_nodes/${n}`;
      where.set(self, path);
      const inputs = (node ?? []).map((ref) => ({ ref, problem: refProblem(ref, nodeCount) }));
      for (const { problem } of inputs) if (problem) issues.push({ path, message: problem });
      if (node?.length === 0) issues.push({ path, message: "names no input tensor" });
      const after = inputs.filter(({ problem }) => !problem).map(({ ref }) => id(ref[0], ref[1]));
      if (n > 0) after.push(id(layer.name, n - 1));
      waiting.set(self, after.length);
      for (const before of after) {
        const list = dependents.get(before);
        if (list) list.push(self);
        else dependents.set(before, [self]);
      }
      if (after.length === 0) ready.push(self);
    });
  }
  for (let next = ready.pop(); next !== undefined; next = ready.pop()) {
    waiting.delete(next);
    for (const dependent of dependents.get(next) ?? []) {
      const left = (waiting.get(dependent) ?? 0) - 1;
      waiting.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
  }
  for (const node of [...waiting.keys()].slice(0, 5)) {
    issues.push({
      path: where.get(node) ?? "",
      message: "can never run: it needs, directly or through other layers, its own output (a cycle)",
    });
  }
  return nodeCount;
}

/** Whether a model's layer list is over MAX_LAYERS (then reported, and nothing of it converted). */
function tooManyLayers(layers: unknown[], path: string, issues: Issue[]): boolean {
  if (layers.length <= MAX_LAYERS) return false;
  issues.push({ path, message: `has ${layers.length} layers; at most ${MAX_LAYERS} are accepted` });
  return true;
}

function sequentialTopology(config: unknown, path: string, issues: Issue[]): JsonObject | null {
  // Keras 2.0/2.1 wrote a Sequential's config as the bare layer list.
  const layers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  const layersPath = Array.isArray(config) ? `${path}/config` : `${path}/config/layers`;
  if (!Array.isArray(layers) || layers.length === 0) {
    issues.push({ path: layersPath, message: "a Sequential model needs a non-empty list of layers" });
    return null;
  }
  if (tooManyLayers(layers, layersPath, issues)) return null;
  const out = layers.map((layer, i) =>
    isObject(layer) ? toTfjsLayer(layer.class_name, layer.config, `${layersPath}/${i}`, issues) : null,
  );
  const name = isObject(config) && typeof config.name === "string" ? config.name : "sequential";
  return { class_name: "Sequential", config: { name, layers: out as unknown as JsonObject[] } };
}

function functionalTopology(config: unknown, path: string, issues: Issue[]): JsonObject | null {
  if (!isObject(config) || !Array.isArray(config.layers)) {
    issues.push({ path: `${path}/config/layers`, message: "a Functional model needs its list of layers" });
    return null;
  }
  if (tooManyLayers(config.layers, `${path}/config/layers`, issues)) return null;
  const names = new Set<string>();
  const layers: JsonObject[] = [];
  const graph: GraphLayer[] = [];
  config.layers.forEach((layer, i) => {
    const layerPath = `${path}/config/layers/${i}`;
    if (!isObject(layer)) {
      issues.push({ path: layerPath, message: "must be a layer object" });
      return;
    }
    const name =
      typeof layer.name === "string" ? layer.name : isObject(layer.config) ? layer.config.name : null;
    if (typeof name !== "string") {
      issues.push({ path: `${layerPath}/name`, message: "a Functional model's layer needs a name" });
      return;
    }
    if (names.has(name)) {
      issues.push({ path: `${layerPath}/name`, message: `another layer is already named "${name}"` });
      return;
    }
    names.add(name);
    const built = toTfjsLayer(layer.class_name, layer.config, layerPath, issues);
    const nodes = Array.isArray(layer.inbound_nodes) ? layer.inbound_nodes : [];
    const inbound = nodes.map((node, n) => {
      const converted = toKeras2Node(node);
      if (converted === null) {
        issues.push({
          path: `${layerPath}/inbound_nodes/${n}`,
          message: "not a Keras 2 or Keras 3 inbound node",
        });
      }
      return converted;
    });
    graph.push({ name, path: layerPath, isInput: built?.class_name === "InputLayer", nodes: inbound });
    if (built)
      layers.push({ ...built, name, config: { ...built.config, name }, inbound_nodes: inbound as never });
  });
  const nodeCount = graphIssues(graph, issues);
  const ends: Record<string, [string, number, number][] | null> = {};
  for (const key of ["input_layers", "output_layers"]) {
    ends[key] = toRefList(config[key]);
    if (ends[key] === null) {
      issues.push({
        path: `${path}/config/${key}`,
        message: "must list [layer name, node index, tensor index]",
      });
    } else {
      for (const ref of ends[key]) {
        const problem = refProblem(ref, nodeCount);
        if (problem) issues.push({ path: `${path}/config/${key}`, message: problem });
      }
    }
  }
  const name = typeof config.name === "string" ? config.name : "model";
  return {
    class_name: "Model",
    config: {
      name,
      layers,
      input_layers: ends.input_layers,
      output_layers: ends.output_layers,
    } as JsonObject,
  };
}

/**
 * Reads the output of Python Keras `model.to_json()` (Keras 2 or 3; Sequential or Functional; as text or
 * parsed) — or a tfjs `model.json` holding one — into the Keras 2 topology tfjs deserializes, recording
 * every problem under `path`.
 */
export function kerasJsonTopology(input: unknown, path: string, issues: Issue[]): JsonObject | null {
  let doc: unknown = input;
  let at = path;
  if (typeof input === "string") {
    try {
      doc = JSON.parse(input);
    } catch (error) {
      issues.push({ path, message: `not valid JSON: ${(error as Error).message}` });
      return null;
    }
  }
  if (isObject(doc) && isObject(doc.modelTopology)) {
    doc = doc.modelTopology;
    at += "/modelTopology";
  }
  if (isObject(doc) && isObject(doc.model_config)) {
    doc = doc.model_config;
    at += "/model_config";
  }
  if (!isObject(doc)) {
    issues.push({ path, message: "must be the JSON (text or object) that Keras model.to_json() returns" });
    return null;
  }
  switch (doc.class_name) {
    case "Sequential":
      return sequentialTopology(doc.config, at, issues);
    case "Functional":
    case "Model":
      return functionalTopology(doc.config, at, issues);
  }
  issues.push({
    path: `${at}/class_name`,
    message: `unsupported model class ${JSON.stringify(doc.class_name)}; supported: Sequential, Functional (a subclassed model has no JSON topology: rebuild it with the Functional API)`,
  });
  return null;
}
