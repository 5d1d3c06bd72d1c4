/**
 * Python schedules and rule expressions as Keras users write them:
 *
 *     def scheduler(epoch, lr):
 *         if epoch < 10:
 *             return lr
 *         else:
 *             return lr * tf.math.exp(-0.1)
 *
 * A small Python subset is tokenized and parsed here (nothing is executed), checked construct by construct
 * with line numbers, and translated into the expression engine's tree: `if`/`elif`/`else` blocks become
 * conditionals, `return` values their branches. The engine then checks the tree's size (EXPRESSION_LIMITS)
 * and compiles it into closures with this file's Python dialect: CPython's float arithmetic (`//`, `%`, `**`
 * to the last bit), and float32 tensors where TensorFlow would have them (`tf.math.*`, `keras.ops.*`).
 */
import { type BigNumber, bignumberDependencies, create, type MathNode } from "mathjs";
import {
  type CompileOptions,
  checkSource,
  compileExpression,
  compileTree,
  type Dialect,
  divide,
  type Expression,
  ExpressionError,
  Float32,
  FUNCTIONS,
  nodes,
  num,
  type Operand,
  truthy,
} from "./expression";

export interface SourceOptions extends CompileOptions {
  /** What the text is, for messages ("a schedule"). */
  subject?: string;
  /**
   * The parameter lists a `def` line may declare. Without it, each parameter must be one of `variables`
   * (any name when those are open).
   */
  parameters?: readonly (readonly string[])[];
}

// ── Which language ────────────────────────────────────────────────────────────────────────────────────────

/**
 * A line that starts with a Python statement keyword, a decorator or a doctest prompt. `def`, `import` and
 * the like count only before a name, as in Python: `import("fs")` stays the expression language's refusal.
 */
const PYTHON_STATEMENT =
  /^[ \t]*(?:>>>|\.\.\.(?![\d.])|@|(?:def|import|from|class|global|nonlocal|async)[ \t]+[A-Za-z_]|(?:return|if|elif|else|for|while|with|try|pass|raise|assert|del|yield)\b)/m;
/**
 * Tokens the expression language does not have: `**`, `//`, `+=` and the like, Python's constants,
 * `x if c else y`, lambdas, `math.exp` and the other module prefixes.
 */
const PYTHON_TOKEN =
  /\*\*|\/\/|[-+*/%@&|^]=|\b(?:True|False|None|if|lambda)\b|\b(?:math|np|numpy|tf|keras|ops)\s*\.\s*[A-Za-z_]/;

/**
 * Whether a text is read as Python rather than as the expression language: it has a statement (def, return,
 * if, …) or a token only Python has. Everything else parses as before, so a one-line expression means what
 * it always meant; a text this classifies as Python was refused by the expression language (unless it used
 * a variable named like a Python keyword, `True` or `None`, which no schedule or metric is).
 */
export function isPythonSource(source: string): boolean {
  const code = source.replace(/#[^\n]*/g, "");
  return PYTHON_STATEMENT.test(code) || PYTHON_TOKEN.test(code);
}

/** The entry point for schedules and rules: Python (above) or the expression language. */
export function compileSource(source: string, options: SourceOptions = {}): Expression {
  return isPythonSource(source) ? compilePython(source, options) : compileExpression(source, options);
}

// ── The Python dialect: CPython floats, TF float32 tensors ────────────────────────────────────────────────

const f32 = Math.fround;
const isTensor = (v: Operand): v is Float32 => v instanceof Float32;

/** C's pow: pow(1, y) and pow(x, 0) are 1 even for NaN, pow(-1, ±inf) is 1 (JavaScript gives NaN). */
function cpow(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if (x === -1 && (y === Infinity || y === -Infinity)) return 1;
  return x ** y;
}

/**
 * Float64 exp, log, sin, cos and pow correctly rounded, as CPython's libm (glibc) gives them: JavaScript's
 * Math is within one unit in the last place but not always the nearest double (`Math.cos(Math.PI * 12 / 10)`
 * is one ulp off). The double's exact value is evaluated with 40 significant digits, then rounded once.
 */
const big = create({ bignumberDependencies }, { precision: 40 });
const exact = (x: number): BigNumber => big.bignumber(x.toPrecision(100));

function correctlyRounded(fn: (x: BigNumber) => BigNumber, fallback: (x: number) => number) {
  // Zero (exp, sin and cos are exact there, and -0 keeps its sign), infinities and huge arguments: Math.
  return (x: number) =>
    Number.isFinite(x) && x !== 0 && Math.abs(x) < 2 ** 31 ? fn(exact(x)).toNumber() : fallback(x);
}

const exp64 = correctlyRounded((x) => x.exp(), Math.exp);
const cos64 = correctlyRounded((x) => x.cos(), Math.cos);
const sin64 = correctlyRounded((x) => x.sin(), Math.sin);
const log64 = (x: number): number => (Number.isFinite(x) && x > 0 ? exact(x).ln().toNumber() : Math.log(x));

function pow64(x: number, y: number): number {
  if (!Number.isFinite(x) || !Number.isFinite(y) || x === 0 || x === 1 || y === 0) return cpow(x, y);
  if (x < 0 && !Number.isInteger(y)) return Number.NaN;
  return exact(x).pow(exact(y)).toNumber();
}

/** CPython's float `**` (float_pow): a ZeroDivisionError, complex results and overflow are errors. */
function pythonPow(x: number, y: number): number {
  if (x === 0 && y < 0) throw new ExpressionError("0.0 cannot be raised to a negative power");
  if (x < 0 && Number.isFinite(x) && Number.isFinite(y) && !Number.isInteger(y)) {
    throw new ExpressionError("a negative number raised to a fractional power is complex in Python");
  }
  const result = pow64(x, y);
  if (!Number.isFinite(result) && Number.isFinite(x) && Number.isFinite(y)) {
    throw new ExpressionError("numerical result out of range (OverflowError)");
  }
  return result;
}

/** CPython's float divmod (Objects/floatobject.c `_float_div_mod`): `//` and `%` to the last bit. */
function pythonDivmod(x: number, y: number): [number, number] {
  let mod = x % y; // C's fmod
  let div = (x - mod) / y;
  if (mod) {
    if (y < 0 !== mod < 0) {
      mod += y;
      div -= 1;
    }
  } else mod = y < 0 ? -0 : 0;
  if (!div) return [x / y < 0 || Object.is(x / y, -0) ? -0 : 0, mod];
  let floor = Math.floor(div);
  if (div - floor > 0.5) floor += 1;
  return [floor, mod];
}

function nonzero(y: number, what: string): number {
  if (y === 0) throw new ExpressionError(`${what} by zero`);
  return y;
}

/**
 * A Python float operator and its float32 twin: when either operand is a tensor, TF converts the other one to
 * float32 and computes at float32 (`0.01 * tf.math.exp(-0.1)` is a float32 product).
 */
function arithmetic(
  float64: (x: number, y: number) => number,
  float32: (x: number, y: number) => number,
): (a: Operand, b: Operand) => Operand {
  return (a, b) =>
    isTensor(a) || isTensor(b)
      ? new Float32(f32(float32(f32(num(a)), f32(num(b)))))
      : float64(num(a), num(b));
}

function comparison(op: (x: number, y: number) => boolean): (a: Operand, b: Operand) => boolean {
  return (a, b) => (isTensor(a) || isTensor(b) ? op(f32(num(a)), f32(num(b))) : op(num(a), num(b)));
}

const PYTHON_BINARY: Dialect["binary"] = {
  add: arithmetic(
    (x, y) => x + y,
    (x, y) => x + y,
  ),
  subtract: arithmetic(
    (x, y) => x - y,
    (x, y) => x - y,
  ),
  multiply: arithmetic(
    (x, y) => x * y,
    (x, y) => x * y,
  ),
  // Tensors divide by zero without an error (inf or nan), as TF does.
  divide: arithmetic(
    (x, y) => divide(x, y, "division"),
    (x, y) => x / y,
  ),
  floorDivide: arithmetic(
    (x, y) => pythonDivmod(x, nonzero(y, "floor division"))[0],
    (x, y) => Math.floor(f32(x / y)),
  ),
  mod: arithmetic(
    (x, y) => pythonDivmod(x, nonzero(y, "modulo"))[1],
    // TF's FloorMod: fmod, moved to the divisor's sign.
    (x, y) => {
      const rest = x % y;
      return rest !== 0 && y < 0 !== rest < 0 ? rest + y : rest;
    },
  ),
  pow: arithmetic(pythonPow, cpow),
  smaller: comparison((x, y) => x < y),
  larger: comparison((x, y) => x > y),
  smallerEq: comparison((x, y) => x <= y),
  largerEq: comparison((x, y) => x >= y),
  equal: comparison((x, y) => x === y),
  unequal: comparison((x, y) => x !== y),
};

const PYTHON_UNARY: Dialect["unary"] = {
  unaryMinus: (a) => (isTensor(a) ? new Float32(-a.value) : -num(a)),
  unaryPlus: (a) => (isTensor(a) ? a : num(a)),
  not: (a) => !truthy(a),
};

type Numeric = (...x: number[]) => number;

/** NumPy/TF minimum and maximum: NaN if either is NaN (Python's min/max builtins differ, see below). */
const nanMin: Numeric = (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? Number.NaN : Math.min(x, y));
const nanMax: Numeric = (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? Number.NaN : Math.max(x, y));

/** The functions under each float64 module prefix. */
const FLOAT64: Record<string, Numeric> = {
  exp: exp64,
  // CPython's math.log(x, base) is log(x) / log(base).
  log: (x, base) => (base === undefined ? log64(x) : divide(log64(x), log64(base), "division")),
  sqrt: Math.sqrt,
  pow: pow64,
  cos: cos64,
  sin: sin64,
  floor: Math.floor,
  ceil: Math.ceil,
  abs: Math.abs,
  minimum: nanMin,
  maximum: nanMax,
};

/** The same at float32: arguments rounded to float32, results the correctly rounded float32 (as TF's CPU kernels). */
const FLOAT32: Record<string, Numeric> = {
  exp: FUNCTIONS.exp.fn,
  log: (x) => FUNCTIONS.log.fn(x),
  sqrt: FUNCTIONS.sqrt.fn,
  pow: (x, y) => f32(cpow(f32(x), f32(y))),
  cos: FUNCTIONS.cos.fn,
  sin: FUNCTIONS.sin.fn,
  floor: (x) => Math.floor(f32(x)),
  ceil: (x) => Math.ceil(f32(x)),
  abs: (x) => Math.abs(f32(x)),
  minimum: (x, y) => nanMin(f32(x), f32(y)),
  maximum: (x, y) => nanMax(f32(x), f32(y)),
};

/** Spellings the libraries use for the same function. */
const ALIASES: Record<string, string> = { power: "pow", fabs: "abs", absolute: "abs" };
const FUNCTION_NAMES = [...Object.keys(FLOAT64), ...Object.keys(ALIASES)];
const BINARY_FUNCTIONS = new Set(["pow", "minimum", "maximum"]);

/** Python's math module: float64, and ValueError / OverflowError where CPython raises them. */
function mathModule(name: string, fn: Numeric): Numeric {
  return (...xs) => {
    if ((name === "floor" || name === "ceil") && !Number.isFinite(xs[0])) {
      throw new ExpressionError(`math.${name}: cannot convert float ${xs[0]} to integer`);
    }
    const result = fn(...xs);
    if (Number.isNaN(result) && !xs.some(Number.isNaN)) {
      throw new ExpressionError(`math.${name}: math domain error`);
    }
    if (!Number.isFinite(result) && xs.every(Number.isFinite)) {
      const domain = name === "log" || (name === "pow" && xs[0] === 0);
      throw new ExpressionError(`math.${name}: ${domain ? "math domain error" : "math range error"}`);
    }
    return result;
  };
}

export const FLOAT64_MODULES = ["math", "np", "numpy"] as const;
export const FLOAT32_MODULES = ["tf.math", "tf", "keras.ops", "ops"] as const;

type PythonFunction = Dialect["functions"][string];

/**
 * Python's min/max builtins: the first argument that no later one beats (`>` for max), returned as it is — a
 * tensor stays a tensor; max(nan, 1) is nan but max(1, nan) is 1, as in Python.
 */
function builtinExtreme(beats: (a: Operand, b: Operand) => Operand): PythonFunction {
  return {
    arity: [2, Number.POSITIVE_INFINITY],
    call: (args) => args.reduce((best, arg) => (truthy(beats(arg, best)) ? arg : best)),
  };
}

function moduleFunctions(): Record<string, PythonFunction> {
  const table: Record<string, PythonFunction> = {};
  for (const name of FUNCTION_NAMES) {
    const base = ALIASES[name] ?? name;
    const arity = (module: string): [number, number] =>
      BINARY_FUNCTIONS.has(base) ? [2, 2] : base === "log" && module === "math" ? [1, 2] : [1, 1];
    for (const module of FLOAT64_MODULES) {
      const fn = module === "math" ? mathModule(base, FLOAT64[base]) : FLOAT64[base];
      table[`${module}.${name}`] = {
        arity: arity(module),
        // NumPy keeps a float32 argument (a tensor) at float32; math converts it to a Python float.
        call: (args) =>
          module !== "math" && args.some(isTensor)
            ? new Float32(FLOAT32[base](...args.map(num)))
            : fn(...args.map(num)),
      };
    }
    for (const module of FLOAT32_MODULES) {
      table[`${module}.${name}`] = {
        arity: arity(module),
        call: (args) => new Float32(FLOAT32[base](...args.map(num))),
      };
    }
  }
  return table;
}

const BUILTINS: Record<string, PythonFunction> = {
  min: builtinExtreme(PYTHON_BINARY.smaller),
  max: builtinExtreme(PYTHON_BINARY.larger),
  abs: { arity: [1, 1], call: ([a]) => (isTensor(a) ? new Float32(Math.abs(a.value)) : Math.abs(num(a))) },
  float: { arity: [1, 1], call: ([a]) => num(a) },
  pow: { arity: [2, 2], call: ([a, b]) => PYTHON_BINARY.pow(a, b) },
};

/**
 * What an if statement gives when none of its branches returns: a marker that only `otherwise` sees (the
 * translation refuses a function that could return it). Its function name cannot be written in Python.
 */
const FALLS_THROUGH = new Float32(Number.NaN);
const FALL_THROUGH = "<no return>";

const PYTHON_DIALECT: Dialect = {
  functions: {
    ...BUILTINS,
    ...moduleFunctions(),
    [FALL_THROUGH]: { arity: [0, 0], call: () => FALLS_THROUGH },
  },
  constants: {},
  binary: PYTHON_BINARY,
  unary: PYTHON_UNARY,
  lazy: {
    and: (left) => truthy(left),
    or: (left) => !truthy(left),
    otherwise: (left) => left === FALLS_THROUGH,
  },
};

const MODULE_CONSTANTS: Record<string, number> = Object.fromEntries(
  FLOAT64_MODULES.flatMap((module) => [
    [`${module}.pi`, Math.PI],
    [`${module}.e`, Math.E],
  ]),
);

// ── Tokens ────────────────────────────────────────────────────────────────────────────────────────────────

interface Token {
  kind: "name" | "number" | "op" | "newline" | "indent" | "dedent" | "end";
  text: string;
  line: number;
}

function fail(line: number, message: string): never {
  throw new ExpressionError(`line ${line}: ${message}`);
}

/** Python's operators and delimiters (and a few of other languages), longest first. */
const OPERATORS = [
  ..."**= //= >>= <<= ... ** // << >> <= >= == != -> += -= *= /= %= &= |= ^= @= := && ||".split(" "),
  ..."+-*/%@&|^~<>()[]{},:.;=!?",
];
const NUMBER = /(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const CLOSING: Record<string, string> = { ")": "(", "]": "[", "}": "{" };

/** Lines without doctest prompts (when every line has one) and without their common indentation. */
function sourceLines(source: string): string[] {
  let lines = source.replace(/\r\n?/g, "\n").split("\n");
  const filled = lines.filter((line) => line.trim() !== "");
  if (filled.every((line) => /^\s*(?:>>>|\.\.\.)(?: |$)/.test(line))) {
    lines = lines.map((line) => line.replace(/^\s*(?:>>>|\.\.\.)(?: |$)/, ""));
  }
  const indents = lines
    .filter((line) => line.trim() !== "" && !line.trim().startsWith("#"))
    .map((line) => /^[ \t]*/.exec(line)![0]);
  let common = indents[0] ?? "";
  for (const indent of indents) while (!indent.startsWith(common)) common = common.slice(0, -1);
  return lines.map((line) => (line.startsWith(common) ? line.slice(common.length) : line.trimStart()));
}

function indentWidth(indent: string): number {
  let width = 0;
  for (const ch of indent) width = ch === "\t" ? width - (width % 8) + 8 : width + 1;
  return width;
}

/** Python's tokenizer, for the subset: logical lines, INDENT/DEDENT, brackets joining lines, `\` continuation. */
function tokenize(source: string, subject: string): Token[] {
  const tokens: Token[] = [];
  const indents = [0];
  const brackets: { char: string; line: number }[] = [];
  let continued = false;
  let lineNo = 0;
  for (const text of sourceLines(source)) {
    lineNo += 1;
    let pos = 0;
    if (brackets.length === 0 && !continued) {
      const indent = /^[ \t]*/.exec(text)![0];
      if (text.length === indent.length || text[indent.length] === "#") continue;
      const width = indentWidth(indent);
      pos = indent.length;
      if (width > indents[indents.length - 1]) {
        indents.push(width);
        tokens.push({ kind: "indent", text: "", line: lineNo });
      }
      while (width < indents[indents.length - 1]) {
        indents.pop();
        tokens.push({ kind: "dedent", text: "", line: lineNo });
      }
      if (width !== indents[indents.length - 1])
        fail(lineNo, "unindent does not match any outer indentation level");
    }
    continued = false;
    while (pos < text.length) {
      const ch = text[pos];
      if (ch === " " || ch === "\t" || ch === "\f") {
        pos += 1;
        continue;
      }
      if (ch === "#") break;
      if (ch === "\\") {
        if (text.slice(pos + 1).trim() !== "")
          fail(lineNo, "unexpected character after line continuation '\\'");
        continued = true;
        break;
      }
      if (ch === '"' || ch === "'") {
        fail(lineNo, `strings are not supported in ${subject} (docstrings included); use # comments`);
      }
      if (/^0[xXoObB]/.test(text.slice(pos))) fail(lineNo, "only decimal numbers are supported");
      NUMBER.lastIndex = pos;
      NAME.lastIndex = pos;
      const number = NUMBER.exec(text);
      if (number) {
        pos += number[0].length;
        if (/[jJ]/.test(text[pos] ?? "")) fail(lineNo, "complex numbers are not supported");
        if (/[A-Za-z_0-9]/.test(text[pos] ?? "")) fail(lineNo, `invalid number '${number[0]}${text[pos]}'`);
        tokens.push({ kind: "number", text: number[0], line: lineNo });
        continue;
      }
      const name = NAME.exec(text);
      if (name) {
        pos += name[0].length;
        tokens.push({ kind: "name", text: name[0], line: lineNo });
        continue;
      }
      const op = OPERATORS.find((candidate) => text.startsWith(candidate, pos));
      if (op === undefined) fail(lineNo, `unexpected character '${ch}'`);
      pos += op.length;
      if (op === "(" || op === "[" || op === "{") brackets.push({ char: op, line: lineNo });
      if (op in CLOSING) {
        if (brackets.pop()?.char !== CLOSING[op]) fail(lineNo, `unmatched '${op}'`);
      }
      tokens.push({ kind: "op", text: op, line: lineNo });
    }
    if (
      brackets.length === 0 &&
      !continued &&
      tokens.length > 0 &&
      tokens[tokens.length - 1].kind !== "newline"
    ) {
      tokens.push({ kind: "newline", text: "", line: lineNo });
    }
  }
  if (brackets.length > 0) {
    const open = brackets[brackets.length - 1];
    fail(open.line, `'${open.char}' was never closed`);
  }
  if (continued) fail(lineNo, "the text ends after a line continuation '\\'");
  for (let i = 1; i < indents.length; i++) tokens.push({ kind: "dedent", text: "", line: lineNo });
  tokens.push({ kind: "end", text: "", line: lineNo });
  return tokens;
}

// ── Parsing and translation ───────────────────────────────────────────────────────────────────────────────

type Statement =
  | { kind: "return"; value: MathNode; line: number }
  | { kind: "value"; value: MathNode; line: number }
  | {
      kind: "if";
      branches: { test: MathNode; body: Statement[] }[];
      orelse: Statement[] | null;
      line: number;
    };

const KEYWORDS = new Set(
  "False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield".split(
    " ",
  ),
);

/** Statements outside the subset, with what to say about them. */
const UNSUPPORTED_STATEMENTS: Record<string, string> = {
  for: "for loops",
  while: "while loops",
  with: "with statements",
  try: "try statements",
  except: "except clauses",
  finally: "finally clauses",
  class: "class definitions",
  pass: "pass statements",
  global: "global statements",
  nonlocal: "nonlocal statements",
  raise: "raise statements",
  assert: "assert statements",
  del: "del statements",
  yield: "yield statements",
  break: "break statements",
  continue: "continue statements",
  async: "async functions",
  await: "await expressions",
};

const ASSIGNMENTS = new Set("= += -= *= /= //= %= **= @= &= |= ^= >>= <<= :=".split(" "));

const COMPARISON_NAMES: Record<string, string> = {
  "<": "smaller",
  ">": "larger",
  "<=": "smallerEq",
  ">=": "largerEq",
  "==": "equal",
  "!=": "unequal",
};

const ARITHMETIC_NAMES: Record<string, string> = {
  "+": "add",
  "-": "subtract",
  "*": "multiply",
  "/": "divide",
  "//": "floorDivide",
  "%": "mod",
};

const MODULES = `${FLOAT64_MODULES.map((m) => `${m}.`).join(", ")} (float64) and ${FLOAT32_MODULES.map((m) => `${m}.`).join(", ")} (float32)`;
const FUNCTION_LIST = `min, max, abs, float, pow, and ${FUNCTION_NAMES.join(", ")} after ${MODULES}`;

const describe = (token: Token): string =>
  token.kind === "newline" || token.kind === "end"
    ? "the end of the line"
    : token.kind === "indent"
      ? "an indented line"
      : token.kind === "dedent"
        ? "a dedented line"
        : `'${token.text}'`;

class PythonParser {
  private pos = 0;
  /** The def's parameters: the only names its body may use. */
  private parameters: string[] | null = null;

  constructor(
    private readonly tokens: Token[],
    private readonly options: SourceOptions & { subject: string },
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const token = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos += 1;
    return token;
  }

  private at(kind: Token["kind"], text?: string): boolean {
    const token = this.peek();
    return token.kind === kind && (text === undefined || token.text === text);
  }

  private atName(text: string): boolean {
    return this.at("name", text);
  }

  private expectOp(text: string, what: string): Token {
    if (!this.at("op", text))
      fail(this.peek().line, `expected '${text}' ${what}, found ${describe(this.peek())}`);
    return this.next();
  }

  /** The whole text: one def, or its body on its own (statements, or a single expression). */
  program(): { node: MathNode; parameters: string[] | null } {
    if (this.atName("def")) {
      const line = this.peek().line;
      this.parameters = this.definition();
      const body = this.suite(line, "the def line");
      if (!this.at("end")) {
        fail(
          this.peek().line,
          "only the one function is allowed: nothing may follow its body (nor nest in it)",
        );
      }
      return { node: this.returned(body), parameters: this.parameters };
    }
    const statements: Statement[] = [];
    while (!this.at("end")) statements.push(this.statement());
    if (statements.length === 1 && statements[0].kind === "value") {
      return { node: statements[0].value, parameters: null };
    }
    return { node: this.returned(statements), parameters: null };
  }

  /** `def name(a, b: float) -> float`, checked against the parameter lists the caller allows. */
  private definition(): string[] {
    const line = this.next().line;
    const name = this.next();
    if (name.kind !== "name" || KEYWORDS.has(name.text)) fail(line, "expected the function's name after def");
    this.expectOp("(", "after the function's name");
    const parameters: string[] = [];
    while (!this.at("op", ")")) {
      if (this.at("op", "*") || this.at("op", "**")) fail(line, "*args and **kwargs are not supported");
      const parameter = this.next();
      if (parameter.kind !== "name" || KEYWORDS.has(parameter.text)) {
        fail(line, `expected a parameter name, found ${describe(parameter)}`);
      }
      if (this.at("op", ":")) {
        this.next();
        this.annotation();
      }
      if (this.at("op", "=")) fail(line, `default values are not supported (parameter '${parameter.text}')`);
      if (parameters.includes(parameter.text)) fail(line, `duplicate parameter '${parameter.text}'`);
      parameters.push(parameter.text);
      if (!this.at("op", ",")) break;
      this.next();
    }
    this.expectOp(")", "after the parameters");
    if (this.at("op", "->")) {
      this.next();
      this.annotation();
    }
    const { parameters: allowed, variables, subject } = this.options;
    const shown = (list: readonly string[]) => `(${list.join(", ")})`;
    if (allowed && !allowed.some((list) => shown(list) === shown(parameters))) {
      fail(
        line,
        `${subject}'s parameters must be ${allowed.map(shown).join(" or ")}; got ${shown(parameters)}`,
      );
    }
    const unknown = variables && parameters.find((parameter) => !variables.includes(parameter));
    if (unknown && variables) {
      fail(line, `parameter '${unknown}' is not available in ${subject}; available: ${variables.join(", ")}`);
    }
    return parameters;
  }

  /** A type annotation (`float`, `tf.Tensor`): read and ignored. */
  private annotation(): void {
    if (!this.at("name")) fail(this.peek().line, "expected a type name in the annotation");
    this.next();
    while (this.at("op", ".") && this.peek(1).kind === "name") {
      this.next();
      this.next();
    }
  }

  /** The block after `:`: indented lines, or one simple statement on the same line. */
  private suite(headerLine: number, what: string): Statement[] {
    this.expectOp(":", `at the end of ${what}`);
    if (!this.at("newline")) {
      const token = this.peek();
      if (token.kind === "name" && (token.text === "if" || token.text === "def")) {
        fail(
          token.line,
          `'${token.text}' cannot follow ':' on the same line; put it on its own indented line`,
        );
      }
      return [this.statement()];
    }
    this.next();
    if (!this.at("indent"))
      fail(this.peek().line, `expected an indented block after ${what} on line ${headerLine}`);
    this.next();
    const statements: Statement[] = [];
    while (!this.at("dedent") && !this.at("end")) statements.push(this.statement());
    if (this.at("dedent")) this.next();
    return statements;
  }

  private statement(): Statement {
    const token = this.peek();
    const { subject } = this.options;
    if (token.kind === "indent") fail(token.line, "unexpected indent");
    if (token.kind === "op" && token.text === "@") fail(token.line, "decorators are not supported");
    if (token.kind === "name") {
      switch (token.text) {
        case "return": {
          this.next();
          if (this.at("newline") || this.at("end")) {
            fail(token.line, "return needs a value (a bare return gives None)");
          }
          const value = this.expression();
          this.endOfStatement();
          return { kind: "return", value, line: token.line };
        }
        case "if":
          return this.ifStatement();
        case "elif":
        case "else":
          return fail(token.line, `'${token.text}' without a matching if (check the indentation)`);
        case "def":
          return fail(token.line, "only one function is allowed, and no functions inside it");
        case "lambda":
          return fail(token.line, `lambdas are not supported in ${subject}; write def with if/return`);
        case "import":
        case "from":
          return fail(
            token.line,
            `imports are not supported in ${subject}, nor needed: the functions of ${MODULES} are available as they are`,
          );
      }
      if (Object.hasOwn(UNSUPPORTED_STATEMENTS, token.text)) {
        fail(
          token.line,
          `${UNSUPPORTED_STATEMENTS[token.text]} are not supported in ${subject}; use if/elif/else and return`,
        );
      }
    }
    this.refuseAssignment();
    const value = this.expression();
    this.endOfStatement();
    return { kind: "value", value, line: token.line };
  }

  /** An `=` (or `+=`, `:=`, …) outside brackets anywhere in this logical line makes it an assignment. */
  private refuseAssignment(): void {
    let depth = 0;
    for (let i = this.pos; i < this.tokens.length; i++) {
      const token = this.tokens[i];
      if (token.kind === "newline" || token.kind === "end") return;
      if (token.kind !== "op") continue;
      if ("([{".includes(token.text)) depth += 1;
      else if (")]}".includes(token.text)) depth -= 1;
      else if ((depth === 0 || token.text === ":=") && ASSIGNMENTS.has(token.text)) {
        fail(
          token.line,
          `assignments are not supported in ${this.options.subject}; compute the value in the return statement (e.g. return lr * 0.9)`,
        );
      }
    }
  }

  private endOfStatement(): void {
    const token = this.peek();
    if (token.kind === "op" && token.text === ";") {
      fail(token.line, "';' between statements is not supported; write one statement per line");
    }
    if (token.kind === "op" && token.text === ",")
      fail(token.line, "tuples are not supported; return one number");
    if (token.kind === "newline") this.next();
    else if (token.kind !== "end" && token.kind !== "dedent")
      fail(token.line, `invalid syntax at ${describe(token)}`);
  }

  private ifStatement(): Statement {
    const line = this.next().line;
    const branches = [{ test: this.expression(), body: this.suite(line, "the 'if' statement") }];
    while (this.atName("elif")) {
      const elif = this.next().line;
      branches.push({ test: this.expression(), body: this.suite(elif, "the 'elif' statement") });
    }
    let orelse: Statement[] | null = null;
    if (this.atName("else")) {
      const elseLine = this.next().line;
      if (this.atName("if")) fail(elseLine, "Python writes 'elif', not 'else if'");
      orelse = this.suite(elseLine, "'else'");
    }
    return { kind: "if", branches, orelse, line };
  }

  /**
   * Statements → one tree. An if statement becomes conditionals; where none of its branches returns, it
   * gives FALLS_THROUGH, and `otherwise` (evaluated lazily, like `or`) continues with the statements after
   * it. Each statement is translated once, so the tree grows with the text. `fallsAt` is the line of an if
   * statement through which the block can end without a return.
   */
  private translate(statements: Statement[]): { node: MathNode; fallsAt: number | null } {
    const [first, ...others] = statements;
    if (first.kind === "return") return { node: first.value, fallsAt: null };
    if (first.kind === "value") {
      return fail(first.line, "this value is discarded (Python would not return it); write return before it");
    }
    const bodies = first.branches.map((branch) => this.translate(branch.body));
    const orelse = first.orelse
      ? this.translate(first.orelse)
      : { node: nodes.call(FALL_THROUGH, []), fallsAt: first.line };
    let node = orelse.node;
    for (let i = first.branches.length - 1; i >= 0; i--) {
      node = nodes.conditional(first.branches[i].test, bodies[i].node, node);
    }
    const fallsAt = [...bodies, orelse].find((block) => block.fallsAt !== null)?.fallsAt ?? null;
    // Statements after an if statement that always returns are never reached; Python ignores them too.
    if (fallsAt === null || others.length === 0) return { node, fallsAt };
    const rest = this.translate(others);
    return { node: nodes.operator("otherwise", "otherwise", [node, rest.node]), fallsAt: rest.fallsAt };
  }

  /** The function's (or the body's) tree; every path must return. */
  private returned(statements: Statement[]): MathNode {
    const { node, fallsAt } = this.translate(statements);
    if (fallsAt !== null) {
      fail(
        fallsAt,
        "when no branch of this if statement is taken, the function ends without a return (Python would return None); add an else branch or a return after it",
      );
    }
    return node;
  }

  // Expressions, by Python's precedence, lowest first.

  expression(): MathNode {
    const line = this.peek().line;
    if (this.atName("lambda"))
      fail(line, `lambdas are not supported in ${this.options.subject}; write def with if/return`);
    const value = this.orTest();
    if (this.atName("if")) {
      this.next();
      const test = this.orTest();
      if (!this.atName("else")) fail(line, "a conditional expression needs else: x if condition else y");
      this.next();
      return nodes.conditional(test, value, this.expression());
    }
    if (this.at("op", ":=")) {
      fail(line, `assignment expressions (:=) are not supported in ${this.options.subject}`);
    }
    if (this.at("op", "?")) {
      fail(
        line,
        "'c ? a : b' is not Python: write a if c else b (or write the whole schedule in the expression language)",
      );
    }
    return value;
  }

  /** `a or b or …` (`or` binds loosest), whose operands are `and` chains of `not` tests. */
  private orTest(): MathNode {
    return this.chain("or", () => this.chain("and", () => this.notTest()));
  }

  private chain(op: "or" | "and", operand: () => MathNode): MathNode {
    let left = operand();
    while (this.atName(op)) {
      this.next();
      left = nodes.operator(op, op, [left, operand()]);
    }
    return left;
  }

  private notTest(): MathNode {
    if (!this.atName("not")) return this.comparison();
    this.next();
    return nodes.operator("not", "not", [this.notTest()]);
  }

  private comparison(): MathNode {
    const params = [this.bitwise()];
    const conditionals: string[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === "op" && Object.hasOwn(COMPARISON_NAMES, token.text)) {
        this.next();
        conditionals.push(COMPARISON_NAMES[token.text]);
        params.push(this.bitwise());
      } else if (
        token.kind === "name" &&
        (token.text === "in" || token.text === "is" || (token.text === "not" && this.peek(1).text === "in"))
      ) {
        fail(
          token.line,
          `'${token.text}' comparisons are not supported; compare numbers with < <= > >= == !=`,
        );
      } else break;
    }
    return conditionals.length > 0 ? nodes.relational(conditionals, params) : params[0];
  }

  private bitwise(): MathNode {
    const left = this.arithmetic();
    const token = this.peek();
    if (token.kind === "op") {
      if (token.text === "^") fail(token.line, "'^' is bitwise xor in Python; write ** for a power");
      if (token.text === "&&" || token.text === "||") {
        fail(token.line, `'${token.text}' is not Python; write ${token.text === "&&" ? "and" : "or"}`);
      }
      if (["|", "&", "<<", ">>"].includes(token.text))
        fail(token.line, "bitwise operators are not supported");
    }
    return left;
  }

  private arithmetic(): MathNode {
    let left = this.term();
    while (this.at("op", "+") || this.at("op", "-")) {
      const op = this.next().text;
      left = nodes.operator(op, ARITHMETIC_NAMES[op], [left, this.term()]);
    }
    return left;
  }

  private term(): MathNode {
    let left = this.factor();
    for (;;) {
      const token = this.peek();
      if (token.kind !== "op") return left;
      if (token.text === "@") fail(token.line, "matrix multiplication is not supported");
      if (!["*", "/", "//", "%"].includes(token.text)) return left;
      this.next();
      left = nodes.operator(token.text, ARITHMETIC_NAMES[token.text], [left, this.factor()]);
    }
  }

  private factor(): MathNode {
    const token = this.peek();
    if (token.kind === "op" && (token.text === "-" || token.text === "+")) {
      this.next();
      return nodes.operator(token.text, token.text === "-" ? "unaryMinus" : "unaryPlus", [this.factor()]);
    }
    if (token.kind === "op" && token.text === "~") fail(token.line, "bitwise operators are not supported");
    if (token.kind === "op" && token.text === "!") fail(token.line, "'!' is not Python; write not");
    const base = this.primary();
    if (!this.at("op", "**")) return base;
    this.next();
    return nodes.operator("**", "pow", [base, this.factor()]);
  }

  private primary(): MathNode {
    const value = this.atom();
    const token = this.peek();
    if (token.kind === "op" && token.text === "[") fail(token.line, "indexing is not supported");
    if (token.kind === "op" && token.text === ".") {
      fail(
        token.line,
        `attribute access on a value is not supported (.${this.peek(1).text}); only module functions can be called`,
      );
    }
    if (token.kind === "op" && token.text === "(")
      fail(token.line, "only the supported functions can be called");
    return value;
  }

  private atom(): MathNode {
    const token = this.next();
    const { line } = token;
    if (token.kind === "number") return nodes.constant(Number(token.text.replace(/_/g, "")));
    if (token.kind === "name") return this.name(token);
    if (token.kind === "op") {
      switch (token.text) {
        case "(": {
          if (this.at("op", ")")) fail(line, "empty parentheses (a tuple) are not supported");
          const inner = this.expression();
          if (this.at("op", ",")) fail(line, "tuples are not supported");
          this.expectOp(")", "to close '('");
          return inner;
        }
        case "[":
          return fail(line, "lists are not supported");
        case "{":
          return fail(line, "dicts and sets are not supported");
      }
    }
    if (token.kind === "newline" || token.kind === "end")
      return fail(line, "a value is missing at the end of the line");
    return fail(line, `invalid syntax at ${describe(token)}`);
  }

  /** A variable, True/False, a module constant (`math.pi`) or a call (`tf.math.exp(-0.1)`, `max(a, b)`). */
  private name(token: Token): MathNode {
    const { line, text } = token;
    const { subject } = this.options;
    if (text === "True" || text === "False") return nodes.constant(text === "True");
    if (text === "None") fail(line, `None is not a number; ${subject} must give a number`);
    if (text === "lambda") fail(line, `lambdas are not supported in ${subject}; write def with if/return`);
    if (KEYWORDS.has(text)) fail(line, `invalid syntax at '${text}'`);
    let dotted = text;
    while (this.at("op", ".") && this.peek(1).kind === "name" && !this.isVariable(text)) {
      this.next();
      dotted += `.${this.next().text}`;
    }
    if (this.at("op", "(")) return this.call(dotted, line);
    if (Object.hasOwn(MODULE_CONSTANTS, dotted)) return nodes.constant(MODULE_CONSTANTS[dotted]);
    if (Object.hasOwn(PYTHON_DIALECT.functions, dotted))
      fail(line, `${dotted} is a function; call it: ${dotted}(…)`);
    if (dotted.includes(".")) {
      fail(
        line,
        `attribute access (${dotted}) is not supported; the dotted names are the functions of ${MODULES}, and math.pi, math.e`,
      );
    }
    return this.variable(text, line);
  }

  private isVariable(name: string): boolean {
    return (this.parameters ?? this.options.variables ?? []).includes(name);
  }

  private variable(name: string, line: number): MathNode {
    const { subject, variables } = this.options;
    const allowed = this.parameters ?? variables;
    if (allowed && !allowed.includes(name)) {
      const hint = name === "e" || name === "pi" ? ` (write math.${name})` : "";
      fail(
        line,
        this.parameters
          ? `name '${name}' is not defined${hint}: the function's parameters are ${this.parameters.join(", ")}`
          : `name '${name}' is not defined${hint}; ${subject} can use ${allowed.join(", ")}`,
      );
    }
    return nodes.symbol(name);
  }

  private call(name: string, line: number): MathNode {
    this.next();
    const args: MathNode[] = [];
    while (!this.at("op", ")")) {
      if (this.at("op", "*") || this.at("op", "**")) fail(line, "*args and **kwargs are not supported");
      if (this.at("name") && this.peek(1).kind === "op" && this.peek(1).text === "=") {
        fail(line, `keyword arguments are not supported (${this.peek().text}=)`);
      }
      args.push(this.expression());
      if (!this.at("op", ",")) break;
      this.next();
    }
    this.expectOp(")", `to close the call of ${name}()`);
    const fn = Object.hasOwn(PYTHON_DIALECT.functions, name) ? PYTHON_DIALECT.functions[name] : undefined;
    if (!fn) {
      const bare = FUNCTION_NAMES.includes(name);
      fail(
        line,
        bare
          ? `${name}() is not a Python builtin; write math.${name}(…) (float64) or tf.math.${name}(…) (float32)`
          : `${name}() is not a supported function; the functions are ${FUNCTION_LIST}`,
      );
    }
    const [least, most] = fn.arity;
    if (args.length < least || args.length > most) {
      const expected =
        least === most ? `${least}` : most === Infinity ? `at least ${least}` : `${least} or ${most}`;
      fail(line, `${name}() takes ${expected} argument${expected === "1" ? "" : "s"}, got ${args.length}`);
    }
    return nodes.call(name, args);
  }
}

/**
 * Compiles a Python function (or its body, or one Python expression) over the given variables. Errors name
 * the line and the construct; the result evaluates like the expression language's, with Python's numbers.
 */
export function compilePython(source: string, options: SourceOptions = {}): Expression {
  checkSource(source);
  const subject = options.subject ?? "an expression";
  const parser = new PythonParser(tokenize(source, subject), { ...options, subject });
  const { node, parameters } = parser.program();
  return compileTree(source, node, { variables: parameters ?? options.variables }, PYTHON_DIALECT);
}
