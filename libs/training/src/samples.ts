/**
 * Samples as nested JSON lists (inline `x`/`y`, a JSONL row's nested feature): their shape, checked in one
 * pass, and their numbers flattened in C order. A list that breaks the shape is ONE issue — the path of
 * the first offending element, what was expected and what was found — never one per element.
 * No tfjs here: the API checks specs with it.
 */
import { MAX_DATA_RANK } from "@plateau/contract";

/** `[3, 28, 28, 1]`: the samples axis first. */
export type Shape = number[];

/** The first problem found: a JSON pointer (relative to the list checked) and what is wrong there. */
export interface ShapeProblem {
  at: string;
  message: string;
}

/** The shape nested lists claim through their first elements, without checking the rest. */
export function firstShape(value: unknown): Shape {
  const shape: Shape = [];
  for (let item = value; Array.isArray(item) && shape.length <= MAX_DATA_RANK; item = item[0]) {
    shape.push(item.length);
  }
  return shape;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return typeof value === "number" ? "a number" : (JSON.stringify(value) ?? String(value));
}

/**
 * The shape of nested lists of numbers, or the first element that breaks it: ragged lengths, a list
 * where a number belongs (or the reverse), a value that is not a finite number, too many dimensions.
 */
export function shapeOf(value: unknown): { shape: Shape } | ShapeProblem {
  const shape = firstShape(value);
  if (shape.length > MAX_DATA_RANK) {
    return {
      at: "",
      message: `has more than ${MAX_DATA_RANK} dimensions (the samples axis included); at most ${MAX_DATA_RANK} are accepted`,
    };
  }
  if (shape.includes(0)) return { at: "", message: `has an empty list (shape ${JSON.stringify(shape)})` };
  let problem: ShapeProblem | null = null;
  const walk = (item: unknown, depth: number, at: string): void => {
    const reference = depth === 1 ? "sample 0" : "the same place in sample 0";
    if (depth === shape.length) {
      if (typeof item !== "number" || !Number.isFinite(item)) {
        problem = {
          at,
          message: `is ${describe(item)}, but ${reference} is a number`,
        };
      }
      return;
    }
    if (!Array.isArray(item) || item.length !== shape[depth]) {
      problem = {
        at,
        message: `is ${describe(item)}, but ${reference} is a list of ${shape[depth]} (shape ${JSON.stringify(shape)})`,
      };
      return;
    }
    for (let i = 0; i < item.length && problem === null; i++) walk(item[i], depth + 1, `${at}/${i}`);
  };
  walk(value, 0, "");
  return problem ?? { shape };
}

/** Nested lists of `shape` (checked by shapeOf) as float32, in C order. */
export function flatten(value: unknown, shape: Shape): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  let next = 0;
  const walk = (item: unknown, depth: number): void => {
    if (depth === shape.length) {
      out[next++] = item as number;
      return;
    }
    for (const child of item as unknown[]) walk(child, depth + 1);
  };
  walk(value, 0);
  return out;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
