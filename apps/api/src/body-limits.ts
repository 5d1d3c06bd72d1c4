import { type Issue, pointerToken } from "@plateau/contract";
import type { FastifyInstance } from "fastify";
import { ApiError } from "./errors";

/**
 * How deeply a JSON body may nest. The deepest legitimate body, a Keras `model.to_json()` inside a job
 * spec, nests about 15 levels; every recursive walk (validation, spec checks, Prisma, the response
 * serializer) would otherwise see whatever depth a client sends, up to a stack overflow.
 */
export const MAX_BODY_DEPTH = 64;

/**
 * Property names refused anywhere in a body. JSON.parse makes them plain own properties, but code that
 * copies or merges objects (spread into a prototype-less target, `Object.assign`, lodash-style merges)
 * turns them into prototype writes, and no field of this API is named so.
 */
const RESERVED_KEYS = new Set(["__proto__", "constructor"]);

/** At most this many problems are listed; one is enough to fix the client. */
const MAX_ISSUES = 20;

/**
 * Replaces Fastify's JSON parser for every route: the body is checked for depth in one iterative pass
 * before anything recursive runs, then parsed, then checked for reserved property names and numbers
 * beyond a double's range; each problem is a 400 in the error shape naming the JSON pointer of the field.
 */
export function installJsonBodyParser(app: FastifyInstance, maxDepth = MAX_BODY_DEPTH): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, maxDepth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

/** The parsed body, or an ApiError (400) saying what is wrong and where. */
export function parseJsonBody(text: string, maxDepth = MAX_BODY_DEPTH): unknown {
  if (text.trim().length === 0) {
    throw new ApiError(400, "invalid_json", "The body is empty, but the content-type is application/json.", [
      { path: "", message: "is empty" },
    ]);
  }
  const tooDeep = depthViolation(text, maxDepth);
  if (tooDeep !== undefined) {
    const message = `nests deeper than ${maxDepth} levels`;
    throw new ApiError(
      400,
      "invalid_json",
      `The body ${message} (at ${tooDeep || "the root"}); send a flatter document.`,
      [{ path: tooDeep, message }],
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : String(error);
    // Fastify's own code and shape for a body that does not parse, as before this parser took over.
    throw new ApiError(400, "bad_request", `The body is not valid JSON: ${reason}.`);
  }
  const issues = valueIssues(value);
  if (issues.length > 0) {
    throw new ApiError(
      400,
      "invalid_json",
      `The body has ${issues.length === 1 ? "a field" : "fields"} no request may hold (${issues[0].path}: ${issues[0].message}).`,
      issues,
    );
  }
  return value;
}

interface Frame {
  array: boolean;
  /** Array index, counted by commas at this level. */
  index: number;
  /** The raw (still quoted) text of the object's current key. */
  key: string;
}

/**
 * The JSON pointer of the first container nested deeper than `maxDepth`, or undefined. One pass over
 * the characters, no recursion and no parsing: strings are skipped (escapes included), brackets
 * counted, keys and indices tracked only so the error can name where it happened. Malformed JSON is
 * left to JSON.parse.
 */
function depthViolation(text: string, maxDepth: number): string | undefined {
  const stack: Frame[] = [];
  let lastString = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i++;
        else if (s === 0x22) break;
      }
      lastString = text.slice(start, i + 1);
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length === maxDepth) return pointer(stack);
      stack.push({ array: c === 0x5b, index: 0, key: "" });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack.at(-1);
      if (top?.array) top.index++;
    } else if (c === 0x3a /* : */) {
      const top = stack.at(-1);
      if (top && !top.array) top.key = lastString;
    }
  }
  return undefined;
}

function pointer(stack: Frame[]): string {
  return stack.map((frame) => `/${frame.array ? frame.index : pointerToken(keyText(frame.key))}`).join("");
}

function keyText(raw: string): string {
  try {
    return String(JSON.parse(raw));
  } catch {
    return raw.slice(1, -1);
  }
}

/**
 * In an already depth-bounded value, iteratively: every `__proto__` / `constructor` property, and
 * every number JSON.parse turned into ±Infinity (a literal beyond ±1.8e308, which no field means).
 */
function valueIssues(root: unknown): Issue[] {
  const issues: Issue[] = [];
  const pending: [unknown, string][] = [[root, ""]];
  while (pending.length > 0 && issues.length < MAX_ISSUES) {
    const [value, path] = pending.pop()!;
    if (typeof value === "number" && !Number.isFinite(value)) {
      issues.push({ path, message: "is a number too large for a double (beyond ±1.8e308)" });
    }
    if (value === null || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push([value[i], `${path}/${i}`]);
      continue;
    }
    for (const key of Object.keys(value)) {
      const at = `${path}/${pointerToken(key)}`;
      if (RESERVED_KEYS.has(key)) issues.push({ path: at, message: "is a reserved property name" });
      else pending.push([(value as Record<string, unknown>)[key], at]);
    }
  }
  return issues;
}
