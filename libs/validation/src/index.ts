import { type Issue, pointerToken } from "@plateau/contract";
import type { TSchema } from "typebox";
import Value from "typebox/value";

export type { Issue };

type Node = Record<string, unknown>;

/**
 * Every problem `value` has against a TypeBox schema, one per location, worded for a person.
 * TypeBox (like ajv) reports a failed union once per alternative; here a union is narrowed first by
 * its literal fields (`source`, `name`, `type`…), so `{"source": "inline", "y": "a"}` yields
 * `/y: must be an array`, not a screenful of "must be equal to constant".
 */
export function schemaIssues(schema: TSchema, value: unknown, options: IssueOptions = {}): Issue[] {
  return issuesAt(schema, value, options.path ?? "", options.field ?? "field");
}

export interface IssueOptions {
  /** Prefix of every reported path. */
  path?: string;
  /** What a property is called in messages ("unknown option 'x'" reads better for callback options). */
  field?: string;
}

function issuesAt(schema: TSchema, value: unknown, path: string, field: string): Issue[] {
  if (Value.Check(schema, value)) return [];
  const node = schema as Node;
  if (Array.isArray(node.anyOf)) return unionIssues(node.anyOf as TSchema[], value, path, field);
  if (node.type === "object" && isPlainObject(value)) return objectIssues(node, value, path, field);
  if (node.type === "array" && Array.isArray(value)) return arrayIssues(node, value, path, field);
  return [{ path, message: leafMessage(schema, value) }];
}

function objectIssues(node: Node, value: Record<string, unknown>, path: string, field: string): Issue[] {
  const properties = (node.properties ?? {}) as Record<string, TSchema>;
  const patterns = Object.entries((node.patternProperties ?? {}) as Record<string, TSchema>);
  const issues: Issue[] = [];
  for (const name of (node.required ?? []) as string[]) {
    if (!(name in value)) issues.push({ path: `${path}/${name}`, message: "is required" });
  }
  for (const [name, item] of Object.entries(value)) {
    const at = `${path}/${pointerToken(name)}`;
    const pattern = patterns.find(([regex]) => new RegExp(regex).test(name));
    if (name in properties) issues.push(...issuesAt(properties[name], item, at, field));
    else if (pattern) issues.push(...issuesAt(pattern[1], item, at, field));
    else if (node.additionalProperties === false) {
      const allowed = Object.keys(properties);
      const hint = allowed.length > 0 ? `; allowed: ${allowed.join(", ")}` : "";
      issues.push({ path: at, message: `unknown ${field} '${name}'${hint}` });
    }
  }
  return issues.length > 0 ? issues : [{ path, message: leafMessage(node as TSchema, value) }];
}

function arrayIssues(node: Node, value: unknown[], path: string, field: string): Issue[] {
  const items = node.items as TSchema | undefined;
  const issues = items
    ? value.flatMap((item, index) => issuesAt(items, item, `${path}/${index}`, field))
    : [];
  return issues.length > 0 ? issues : [{ path, message: leafMessage(node as TSchema, value) }];
}

function unionIssues(variants: TSchema[], value: unknown, path: string, field: string): Issue[] {
  if (!isPlainObject(value) || !variants.some((v) => (v as Node).type === "object")) {
    return [{ path, message: `must be ${describe({ anyOf: variants })} (got ${preview(value)})` }];
  }
  const candidates = variants.filter((v) => matchesDiscriminators(v as Node, value));
  if (candidates.length === 0) return [discriminatorIssue(variants, value, path)];
  const ranked = candidates.map((v) => issuesAt(v, value, path, field)).sort((a, b) => a.length - b.length);
  return ranked[0];
}

/** Literal-valued properties (const or enum) of an object variant: the fields that pick the variant. */
function discriminators(variant: Node): [string, unknown[]][] {
  if (variant.type !== "object") return [];
  return Object.entries((variant.properties ?? {}) as Record<string, Node>).flatMap(([name, prop]) => {
    const allowed = literals(prop);
    return allowed ? [[name, allowed] as [string, unknown[]]] : [];
  });
}

function literals(prop: Node): unknown[] | undefined {
  if ("const" in prop) return [prop.const];
  if (Array.isArray(prop.enum)) return prop.enum;
  if (Array.isArray(prop.anyOf) && prop.anyOf.every((p) => "const" in (p as Node))) {
    return prop.anyOf.map((p) => (p as Node).const);
  }
  return undefined;
}

function matchesDiscriminators(variant: Node, value: Record<string, unknown>): boolean {
  if (variant.type !== "object") return false;
  const required = (variant.required ?? []) as string[];
  return discriminators(variant).every(([name, allowed]) =>
    name in value ? allowed.includes(value[name]) : !required.includes(name),
  );
}

function discriminatorIssue(variants: TSchema[], value: Record<string, unknown>, path: string): Issue {
  // The first discriminating field whose value no variant accepts is the one to name.
  const fields = new Map<string, unknown[]>();
  for (const variant of variants) {
    for (const [name, allowed] of discriminators(variant as Node)) {
      fields.set(name, [...new Set([...(fields.get(name) ?? []), ...allowed])]);
    }
  }
  const options = (name: string) => (fields.get(name) ?? []).map((a) => JSON.stringify(a)).join(", ");
  // A field the value gives wrongly names the mistake better than one it leaves out (an unknown
  // `class_name` rather than the missing `name` of the other form).
  for (const [name, allowed] of fields) {
    if (name in value && !allowed.includes(value[name]))
      return { path: `${path}/${name}`, message: `must be one of ${options(name)}` };
  }
  for (const name of fields.keys()) {
    if (!(name in value)) return { path: `${path}/${name}`, message: `is required: one of ${options(name)}` };
  }
  const [first] = fields.keys();
  const combination = [...fields.keys()].map((name) => `${name}=${JSON.stringify(value[name])}`).join(", ");
  return { path: first ? `${path}/${first}` : path, message: `no variant accepts ${combination}` };
}

function leafMessage(schema: TSchema, value: unknown): string {
  const error = [...Value.Errors(schema, value)].find((e) => e.instancePath === "");
  const node = schema as Node;
  if (!error || ["type", "const", "enum", "anyOf"].includes(error.keyword)) {
    return `must be ${describe(node)} (got ${preview(value)})`;
  }
  return error.message;
}

function describe(node: Node): string {
  if (Array.isArray(node.anyOf)) return (node.anyOf as Node[]).map(describe).join(" or ");
  if ("const" in node) return JSON.stringify(node.const);
  if (Array.isArray(node.enum)) return `one of ${node.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  const bounds = [
    typeof node.minimum === "number" ? `>= ${node.minimum}` : "",
    typeof node.exclusiveMinimum === "number" ? `> ${node.exclusiveMinimum}` : "",
    typeof node.maximum === "number" ? `<= ${node.maximum}` : "",
    typeof node.exclusiveMaximum === "number" ? `< ${node.exclusiveMaximum}` : "",
  ].filter(Boolean);
  const suffix = bounds.length > 0 ? ` ${bounds.join(" and ")}` : "";
  switch (node.type) {
    case "integer":
      return `an integer${suffix}`;
    case "number":
      return `a number${suffix}`;
    case "string":
      return "a string";
    case "boolean":
      return "true or false";
    case "array":
      return "an array";
    case "object":
      return "an object";
    case "null":
      return "null";
    default:
      return "a valid value";
  }
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
