import type { MathNode } from "mathjs";
import { create, parseDependencies } from "mathjs";

/**
 * The safe expression language of `LearningRateScheduler` and `Rule`.
 *
 * mathjs only parses: its own evaluator dispatches over complex numbers, matrices, units and BigNumbers and
 * compares with a relative tolerance (1e-12), none of which a Python scheduler does. So the parse tree is
 * checked against a short whitelist and compiled into plain closures with Python float semantics. Nothing a
 * user writes can reach a mathjs function (`import`, `evaluate`, `createUnit`, …) or a JavaScript object:
 * those names are not in the whitelist, and property access, indexing, assignment, function definitions,
 * arrays, objects, ranges and blocks are rejected as node types.
 *
 * python-function.ts parses a Python subset into the same kind of tree (never through mathjs's parser) and
 * compiles it here with its own Dialect: the same checks, bounds and closures, Python's number tables.
 */
const parser = create({ parseDependencies });

export type Value = number | boolean;
export type Scope = Readonly<Record<string, Value>>;

/**
 * A float32 scalar: what `tf.math.*` / `keras.ops.*` return (a tensor), and `np.*` applied to one. Arithmetic
 * and comparisons with it happen at float32, because TF converts the other operand to the tensor's dtype.
 * Only the Python dialect (python-function.ts) produces these; results are handed out as plain numbers.
 */
export class Float32 {
  constructor(readonly value: number) {}
}
/** What the compiled closures pass around. */
export type Operand = Value | Float32;

/** A syntax error, a disallowed construct or an unknown name; the message is meant for the user. */
export class ExpressionError extends Error {
  override name = "ExpressionError";
}

/**
 * exp, log, sqrt, pow, sin and cos compute at float32, as `tf.math.*` / `keras.ops.*` do in the Python
 * schedulers people bring (`lr * tf.math.exp(-0.1)`): argument and result are rounded to float32, the result
 * being the correctly rounded one. Arithmetic operators compute with doubles, as Python floats do.
 */
const f32 = Math.fround;
export const FUNCTIONS: Record<string, { arity: [number, number]; fn: (...args: number[]) => number }> = {
  exp: { arity: [1, 1], fn: (x) => f32(Math.exp(f32(x))) },
  log: {
    arity: [1, 2],
    fn: (x, base) => f32(Math.log(f32(x)) / (base === undefined ? 1 : Math.log(f32(base)))),
  },
  sqrt: { arity: [1, 1], fn: (x) => f32(Math.sqrt(f32(x))) },
  pow: { arity: [2, 2], fn: (x, y) => f32(f32(x) ** f32(y)) },
  cos: { arity: [1, 1], fn: (x) => f32(Math.cos(f32(x))) },
  sin: { arity: [1, 1], fn: (x) => f32(Math.sin(f32(x))) },
  abs: { arity: [1, 1], fn: Math.abs },
  floor: { arity: [1, 1], fn: Math.floor },
  ceil: { arity: [1, 1], fn: Math.ceil },
  min: { arity: [2, Number.POSITIVE_INFINITY], fn: Math.min },
  max: { arity: [2, Number.POSITIVE_INFINITY], fn: Math.max },
};

type Compiled = (scope: Scope) => Operand;

/** Python's bool is an int: True * 0.1 == 0.1. */
export const num = (v: Operand): number =>
  typeof v === "boolean" ? Number(v) : v instanceof Float32 ? v.value : v;
/** Python truthiness: 0 and False are false, everything else (NaN included) is true. */
export const truthy = (v: Operand): boolean => (typeof v === "boolean" ? v : num(v) !== 0);

export function divide(a: number, b: number, what: string): number {
  if (b === 0) throw new ExpressionError(`${what} by zero`);
  return a / b;
}

/** The comparison operators, by mathjs's names: the only operators a RelationalNode may chain. */
const COMPARISONS = ["smaller", "larger", "smallerEq", "largerEq", "equal", "unequal"] as const;

/**
 * What a dialect gives the compiler: its functions (by the name the tree calls them), named constants, and
 * operators by mathjs's operator names (`add`, `smaller`, `not`, …). The expression language is one dialect;
 * the Python subset of python-function.ts is the other, compiled by the same code with its own tables.
 */
export interface Dialect {
  functions: Readonly<
    Record<string, { arity: readonly [number, number]; call: (args: Operand[]) => Operand }>
  >;
  constants: Readonly<Record<string, number>>;
  binary: Readonly<Record<string, (a: Operand, b: Operand) => Operand>>;
  unary: Readonly<Record<string, (a: Operand) => Operand>>;
  /**
   * Binary operators that evaluate their right operand only when `takeRight(left)` holds, else give the left
   * one (Python's `and` / `or`, which return an operand).
   */
  lazy: Readonly<Record<string, (left: Operand) => boolean>>;
}

const BINARY: Record<string, (a: Operand, b: Operand) => Operand> = {
  add: (a, b) => num(a) + num(b),
  subtract: (a, b) => num(a) - num(b),
  multiply: (a, b) => num(a) * num(b),
  divide: (a, b) => divide(num(a), num(b), "division"),
  // Python's % takes the sign of the divisor, unlike JavaScript's.
  mod: (a, b) => num(a) - num(b) * Math.floor(divide(num(a), num(b), "modulo")),
  pow: (a, b) => num(a) ** num(b),
  smaller: (a, b) => num(a) < num(b),
  larger: (a, b) => num(a) > num(b),
  smallerEq: (a, b) => num(a) <= num(b),
  largerEq: (a, b) => num(a) >= num(b),
  equal: (a, b) => num(a) === num(b),
  unequal: (a, b) => num(a) !== num(b),
};

const UNARY: Record<string, (a: Operand) => Operand> = {
  unaryMinus: (a) => -num(a),
  unaryPlus: (a) => num(a),
  not: (a) => !truthy(a),
};

/** The expression language: mathjs syntax, Python semantics, `exp` & co. at float32. */
const EXPRESSION_DIALECT: Dialect = {
  functions: Object.fromEntries(
    Object.entries(FUNCTIONS).map(([name, { arity, fn }]) => [
      name,
      { arity, call: (args: Operand[]) => fn(...args.map(num)) },
    ]),
  ),
  constants: { pi: Math.PI, e: Math.E },
  binary: BINARY,
  unary: UNARY,
  lazy: { and: (left) => truthy(left), or: (left) => !truthy(left) },
};

const REJECTED: Record<string, string> = {
  AccessorNode: "property access and indexing are not allowed",
  IndexNode: "indexing is not allowed",
  AssignmentNode: "assignment is not allowed",
  FunctionAssignmentNode: "defining functions is not allowed",
  BlockNode:
    "only one expression is allowed (no ';' or line breaks between expressions); several lines are read as Python only with a def, return or if statement",
  ArrayNode: "arrays are not allowed",
  ObjectNode: "objects are not allowed",
  RangeNode: "ranges are not allowed",
};

export interface CompileOptions {
  /**
   * The variables the expression may use. When given, any other name is an error now (at spec validation).
   * When omitted, names are looked up at evaluation and a missing one is an error naming it.
   */
  variables?: readonly string[];
}

export interface Expression {
  readonly source: string;
  /** Variable names the expression reads (functions and constants excluded). */
  readonly variables: readonly string[];
  evaluate(scope: Scope): Value;
}

/**
 * Bounds on what one expression may cost. Its length is also the schema's `maxLength`; depth and node count
 * bound the parser's and the compiler's recursion (500 nested parentheses overflow mathjs's stack) and the
 * work of one evaluation, which visits each node at most once: evaluation is O(nodes).
 */
export const EXPRESSION_LIMITS = { length: 1000, depth: 50, nodes: 300 } as const;

/** Parses, checks and compiles once; `evaluate` then runs the closures with a scope. */
export function compileExpression(source: string, options: CompileOptions = {}): Expression {
  checkSource(source);
  let tree: MathNode;
  try {
    tree = parser.parse(source);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new ExpressionError(
        `expression is nested too deeply (at most ${EXPRESSION_LIMITS.depth} levels)`,
      );
    }
    throw new ExpressionError(`syntax error: ${(error as Error).message}`);
  }
  return compileTree(source, tree, options, EXPRESSION_DIALECT);
}

/** The bounds on the text, checked before any parser recurses into it: not empty, length, bracket depth. */
export function checkSource(source: string): void {
  if (typeof source !== "string" || source.trim() === "") throw new ExpressionError("expression is empty");
  if (source.length > EXPRESSION_LIMITS.length) {
    throw new ExpressionError(
      `expression has ${source.length} characters; at most ${EXPRESSION_LIMITS.length} are allowed`,
    );
  }
  const brackets = bracketDepth(source);
  if (brackets > EXPRESSION_LIMITS.depth) {
    throw new ExpressionError(
      `parentheses are nested ${brackets} deep; at most ${EXPRESSION_LIMITS.depth} levels are allowed`,
    );
  }
}

/**
 * Checks a parsed tree's size (EXPRESSION_LIMITS) and compiles it with a dialect's tables. `source` is kept
 * on the result for messages. Evaluation hands out plain numbers and booleans (a float32 tensor's value).
 */
export function compileTree(
  source: string,
  tree: MathNode,
  options: CompileOptions,
  dialect: Dialect,
): Expression {
  checkSize(tree);
  const variables = new Set<string>();
  const compiled = compileNode(tree, { ...options, dialect }, variables);
  return {
    source,
    variables: [...variables],
    evaluate: (scope) => {
      const value = compiled(scope);
      return value instanceof Float32 ? value.value : value;
    },
  };
}

/**
 * Builders for the node types the compiler accepts, for a dialect that parses its own syntax. A function is
 * called by its name in the dialect's table (`tf.math.exp` is one name there, never an attribute access).
 */
const N = parser as unknown as {
  ConstantNode: new (value: number | boolean) => MathNode;
  SymbolNode: new (name: string) => MathNode;
  FunctionNode: new (fn: MathNode, args: MathNode[]) => MathNode;
  OperatorNode: new (op: string, fn: string, args: MathNode[]) => MathNode;
  RelationalNode: new (conditionals: string[], params: MathNode[]) => MathNode;
  ConditionalNode: new (condition: MathNode, whenTrue: MathNode, whenFalse: MathNode) => MathNode;
};
export const nodes = {
  constant: (value: number | boolean) => new N.ConstantNode(value),
  symbol: (name: string) => new N.SymbolNode(name),
  call: (name: string, args: MathNode[]) => new N.FunctionNode(new N.SymbolNode(name), args),
  operator: (op: string, fn: string, args: MathNode[]) => new N.OperatorNode(op, fn, args),
  relational: (conditionals: string[], params: MathNode[]) => new N.RelationalNode(conditionals, params),
  conditional: (condition: MathNode, whenTrue: MathNode, whenFalse: MathNode) =>
    new N.ConditionalNode(condition, whenTrue, whenFalse),
};

/** The deepest nesting of (), [] and {} in the text, before the parser recurses into it. */
function bracketDepth(source: string): number {
  let depth = 0;
  let deepest = 0;
  for (const ch of source) {
    if (ch === "(" || ch === "[" || ch === "{") deepest = Math.max(deepest, ++depth);
    else if (ch === ")" || ch === "]" || ch === "}") depth = Math.max(0, depth - 1);
  }
  return deepest;
}

/**
 * Refuses a tree deeper or larger than EXPRESSION_LIMITS (`-(-(-…))`, `1+1+…+1`, `not not …`), walking it
 * without recursion, so the recursive compiler and the closures it builds stay shallow and small.
 */
function checkSize(tree: MathNode): void {
  const stack: [MathNode, number][] = [[tree, 1]];
  let nodes = 0;
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    nodes += 1;
    if (depth > EXPRESSION_LIMITS.depth) {
      throw new ExpressionError(
        `expression is nested more than ${EXPRESSION_LIMITS.depth} levels deep (operators, calls, conditionals and parentheses each add one); simplify it`,
      );
    }
    if (nodes > EXPRESSION_LIMITS.nodes) {
      throw new ExpressionError(
        `expression has more than ${EXPRESSION_LIMITS.nodes} terms (numbers, names, operators and calls); simplify it`,
      );
    }
    node.forEach((child) => {
      stack.push([child, depth + 1]);
    });
  }
}

/** Scope values must be numbers or booleans; a typo'd metric name is reported with what is available. */
function lookup(name: string): Compiled {
  return (scope) => {
    const value = Object.hasOwn(scope, name) ? scope[name] : undefined;
    if (typeof value === "number" || typeof value === "boolean") return value;
    const available = Object.keys(scope).filter(
      (k) => typeof scope[k] === "number" || typeof scope[k] === "boolean",
    );
    throw new ExpressionError(`unknown variable '${name}'; available: ${available.sort().join(", ")}`);
  };
}

type Context = CompileOptions & { dialect: Dialect };

/** The dotted name of a callee (`foo`, `foo.bar`) for messages; undefined for anything else. */
function calleeName(node: MathNode): string | undefined {
  const n = node as MathNode & Record<string, unknown>;
  if (node.type === "SymbolNode") return n.name as string;
  const index = n.index as (MathNode & { dotNotation?: boolean; dimensions?: MathNode[] }) | undefined;
  const property = index?.dotNotation ? (index.dimensions?.[0] as MathNode & { value?: unknown }) : undefined;
  if (node.type !== "AccessorNode" || typeof property?.value !== "string") return undefined;
  const object = calleeName(n.object as MathNode);
  return object === undefined ? undefined : `${object}.${property.value}`;
}

function compileNode(node: MathNode, options: Context, seen: Set<string>): Compiled {
  const n = node as MathNode & Record<string, unknown>;
  const { functions, constants, binary, unary, lazy } = options.dialect;
  switch (node.type) {
    case "ParenthesisNode":
      return compileNode(n.content as MathNode, options, seen);
    case "ConstantNode": {
      const value = n.value;
      if (typeof value !== "number" && typeof value !== "boolean") {
        throw new ExpressionError(
          value === undefined || value === null
            ? "expression is empty"
            : `${typeof value} values are not allowed`,
        );
      }
      return () => value;
    }
    case "SymbolNode": {
      const name = n.name as string;
      if (Object.hasOwn(constants, name)) {
        const value = constants[name];
        return () => value;
      }
      if (Object.hasOwn(functions, name))
        throw new ExpressionError(`'${name}' is a function; call it as ${name}(…)`);
      if (options.variables && !options.variables.includes(name)) {
        throw new ExpressionError(`unknown variable '${name}'; allowed: ${options.variables.join(", ")}`);
      }
      seen.add(name);
      return lookup(name);
    }
    case "FunctionNode": {
      const callee = n.fn as MathNode;
      const name = callee.type === "SymbolNode" ? (n.fn as { name: string }).name : undefined;
      if (name === undefined || !Object.hasOwn(functions, name)) {
        const shown = name ?? calleeName(callee);
        throw new ExpressionError(
          `${shown === undefined ? "this call" : `'${shown}'`} is not an allowed function; allowed: ${Object.keys(functions).join(", ")}`,
        );
      }
      const { arity, call } = functions[name];
      const args = (n.args as MathNode[]).map((arg) => compileNode(arg, options, seen));
      if (args.length < arity[0] || args.length > arity[1]) {
        const expected =
          arity[0] === arity[1]
            ? `${arity[0]}`
            : arity[1] === Infinity
              ? `at least ${arity[0]}`
              : `${arity[0]} or ${arity[1]}`;
        throw new ExpressionError(`${name}() takes ${expected} argument(s), got ${args.length}`);
      }
      return (scope) => call(args.map((arg) => arg(scope)));
    }
    case "OperatorNode": {
      const fnName = n.fn as string;
      if (n.implicit)
        throw new ExpressionError(`write '*' explicitly between factors (near '${node.toString()}')`);
      const args = (n.args as MathNode[]).map((arg) => compileNode(arg, options, seen));
      if (args.length === 1 && Object.hasOwn(unary, fnName)) {
        const [a] = args;
        const op = unary[fnName];
        return (scope) => op(a(scope));
      }
      if (args.length === 2) {
        const [a, b] = args;
        // Short-circuit and return an operand, as Python's `and` / `or` do. The left operand is evaluated
        // once: evaluating it again would make `((a and b) and b) and …` exponential in its depth.
        if (Object.hasOwn(lazy, fnName)) {
          const takeRight = lazy[fnName];
          return (scope) => {
            const left = a(scope);
            return takeRight(left) ? b(scope) : left;
          };
        }
        if (Object.hasOwn(binary, fnName)) {
          const op = binary[fnName];
          return (scope) => op(a(scope), b(scope));
        }
      }
      throw new ExpressionError(`operator '${n.op as string}' is not allowed`);
    }
    case "RelationalNode": {
      // Chained comparisons (`0 < epoch <= 5`) mean what they mean in Python.
      const ops = (n.conditionals as string[]).map((c) => {
        if (!(COMPARISONS as readonly string[]).includes(c) || !Object.hasOwn(binary, c)) {
          throw new ExpressionError(`comparison '${c}' is not allowed`);
        }
        return binary[c];
      });
      const params = (n.params as MathNode[]).map((p) => compileNode(p, options, seen));
      return (scope) => {
        let left = params[0](scope);
        for (let i = 0; i < ops.length; i++) {
          const right = params[i + 1](scope);
          if (!truthy(ops[i](left, right))) return false;
          left = right;
        }
        return true;
      };
    }
    case "ConditionalNode": {
      const condition = compileNode(n.condition as MathNode, options, seen);
      const whenTrue = compileNode(n.trueExpr as MathNode, options, seen);
      const whenFalse = compileNode(n.falseExpr as MathNode, options, seen);
      return (scope) => (truthy(condition(scope)) ? whenTrue(scope) : whenFalse(scope));
    }
    default:
      throw new ExpressionError(REJECTED[node.type] ?? `${node.type} is not allowed`);
  }
}

/** Evaluates to a number; a boolean result counts as 0/1, as Python's bool does. */
export function evaluateNumber(expression: Expression, scope: Scope): number {
  return num(expression.evaluate(scope));
}

/** Evaluates with Python truthiness. */
export function evaluateCondition(expression: Expression, scope: Scope): boolean {
  return truthy(expression.evaluate(scope));
}
