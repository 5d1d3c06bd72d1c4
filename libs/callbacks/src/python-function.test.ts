// biome-ignore-all lint/suspicious/noThenProperty: `then` is the Rule spec's documented field; its value is never a function, so these objects are not thenables.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { compileExpression, EXPRESSION_LIMITS } from "./expression";
import { compilePython, compileSource, isPythonSource } from "./python-function";
import { compileScheduleSource } from "./schedules";
import { simulate } from "./simulate";
import { validateCallbackSpecs } from "./validate";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const f32 = Math.fround;

/** The Keras guide's scheduler, as `keras.callbacks.LearningRateScheduler`'s documentation writes it. */
const KERAS_GUIDE = `def scheduler(epoch, lr):
    if epoch < 10:
        return lr
    else:
        return lr * tf.math.exp(-0.1)`;

/** The same, pasted from the docstring's doctest (Keras 3 writes `ops.exp`, after `from keras import ops`). */
const KERAS_DOCTEST = `    >>> # This function keeps the initial learning rate for the first ten epochs
    >>> # and decreases it exponentially after that.
    >>> def scheduler(epoch, lr):
    ...     if epoch < 10:
    ...         return lr
    ...     else:
    ...         return lr * ops.exp(-0.1)
    >>>`;

/** The four-branch guide scheduler the expression tests use (`lr < 0.001 ? lr * 1.5 : …`), in Python. */
const FOUR_BRANCHES = `def scheduler(epoch, lr):
    if lr < 0.001:
        return lr * 1.5
    elif epoch < 5:
        return lr
    elif epoch < 10:
        return lr * tf.math.exp(-0.1)
    return lr * tf.math.exp(-0.05)`;

const schedule = (source: string) => compileScheduleSource(source);
const run = (source: string, epoch: number, lr: number) => schedule(source).evaluate({ epoch, lr });
const value = (source: string, scope: Record<string, number> = {}) =>
  compilePython(source, { variables: ["epoch", "lr", "x"] }).evaluate(scope);

async function simulatedRates(schedule: string, epochs: number, learning_rate = 0.01): Promise<number[]> {
  const result = await simulate({
    callbacks: [{ type: "LearningRateScheduler", schedule }],
    optimizer: { name: "sgd", learning_rate },
    epochs: Array.from({ length: epochs }, () => ({ logs: { loss: 1 } })),
  });
  return result.epochs.map((e) => e.learning_rate);
}

/**
 * Keras: at each epoch begin lr = float(variable) (a float32 value), schedule(epoch, lr) is assigned to the
 * float32 variable. `step` is the schedule's arithmetic on those numbers.
 */
function kerasRates(epochs: number, initial: number, step: (epoch: number, lr: number) => number): number[] {
  const rates: number[] = [];
  let lr = f32(initial);
  for (let epoch = 0; epoch < epochs; epoch++) {
    lr = f32(step(epoch, lr));
    rates.push(lr);
  }
  return rates;
}

/** float32(exp(-0.1)): what tf.math.exp(-0.1) and keras.ops.exp(-0.1) return. */
const EXP_F32 = f32(Math.exp(f32(-0.1)));
/** Python's math.exp(-0.1) (and np.exp): the float64 0.9048374180359595. */
const EXP_F64 = 0.9048374180359595;

describe("the Keras guide's scheduler, as Python", () => {
  it("gives Keras's rates through simulate: lr for epochs 0–9, then × float32(exp(-0.1)) each epoch", async () => {
    const expected = kerasRates(50, 0.01, (epoch, lr) => (epoch < 10 ? lr : lr * EXP_F32));
    expect(await simulatedRates(KERAS_GUIDE, 50)).toEqual(expected);
    // Numbers from the Python run (float32 variable, tf.math.exp): epochs 9, 10, 11 and 14.
    expect([expected[9], expected[10], expected[11], expected[14]]).toEqual([
      0.009999999776482582, 0.009048374369740486, 0.008187307976186275, 0.006065306719392538,
    ]);
    // The docstring's doctest: round(model.optimizer.learning_rate, 5) is 0.00607 after 15 epochs.
    expect(Math.round(expected[14] * 1e5) / 1e5).toBe(0.00607);
  });

  it("reads the docstring's doctest as pasted, prompts, comments and ops.exp included", async () => {
    expect(await simulatedRates(KERAS_DOCTEST, 20)).toEqual(await simulatedRates(KERAS_GUIDE, 20));
  });

  it("gives the same rates as the expression form, whose tests compare 50 epochs with Python's", async () => {
    const expression =
      "lr < 0.001 ? lr * 1.5 : epoch < 5 ? lr : epoch < 10 ? lr * exp(-0.1) : lr * exp(-0.05)";
    const rates = await simulatedRates(FOUR_BRANCHES, 50);
    expect(rates).toEqual(await simulatedRates(expression, 50));
    // Every branch was taken: lr drops below 0.001 at epoch 46 and is multiplied by 1.5.
    expect(rates[47]).toBe(f32(rates[46] * 1.5));
    expect(rates[46]).toBeLessThan(0.001);
  });

  it("computes math.exp in float64, as Python does: a different sequence of float32 rates", async () => {
    const guide64 = KERAS_GUIDE.replace("tf.math.exp", "math.exp");
    const rates = await simulatedRates(guide64, 50);
    expect(rates).toEqual(kerasRates(50, 0.01, (epoch, lr) => (epoch < 10 ? lr : lr * EXP_F64)));
    const rates32 = await simulatedRates(KERAS_GUIDE, 50);
    // Rounding differently, the two runs part in the last float32 bit at epoch 15 (as they do in Python).
    expect(rates.slice(0, 15)).toEqual(rates32.slice(0, 15));
    expect(rates[15]).not.toBe(rates32[15]);
    expect(rates.filter((rate, i) => rate !== rates32[i]).length).toBeGreaterThan(20);
  });

  it("accepts the guide's function in a job spec; its one-parameter form too, as Keras calls schedule(epoch)", () => {
    expect(validateCallbackSpecs([{ type: "LearningRateScheduler", schedule: KERAS_GUIDE }])).toEqual([]);
    expect(run("def schedule(epoch):\n    return 0.1 * 0.5 ** (epoch // 10)", 25, 1)).toBe(0.025);
  });
});

describe("precision per module prefix", () => {
  it("math. and np. compute at float64, tf.math., tf., keras.ops. and ops. at float32 (tensors)", () => {
    const float64 = 0.01 * EXP_F64;
    // A tensor times a Python float is a float32 product: TF converts 0.01 to float32 first.
    const float32 = f32(f32(0.01) * EXP_F32);
    expect(float64).toBe(0.009048374180359595);
    expect(float32).toBe(0.009048374369740486);
    for (const prefix of ["math", "np", "numpy"]) expect(value(`0.01 * ${prefix}.exp(-0.1)`)).toBe(float64);
    for (const prefix of ["tf.math", "tf", "keras.ops", "ops"]) {
      expect(value(`0.01 * ${prefix}.exp(-0.1)`)).toBe(float32);
    }
  });

  it("keeps arithmetic on a tensor at float32 and converts back with float()", () => {
    expect(value("tf.math.exp(-0.1) + 0.1")).toBe(f32(EXP_F32 + f32(0.1)));
    expect(value("float(tf.math.exp(-0.1)) + 0.1")).toBe(EXP_F32 + 0.1);
    expect(value("-tf.math.sqrt(2.0) / 3")).toBe(f32(-f32(Math.SQRT2) / 3));
    expect(value("tf.math.pow(10.0, -2) == 0.01")).toBe(true); // both sides at float32
    expect(value("math.pow(10.0, -2) == 0.01")).toBe(true);
    expect(value("keras.ops.maximum(x, 0.1)", { x: 0.2 })).toBe(f32(0.2));
    expect(value("np.maximum(x, 0.1)", { x: 0.2 })).toBe(0.2);
    // np. on a float32 tensor stays float32, as NumPy keeps a float32 argument's dtype.
    expect(value("np.sqrt(tf.math.exp(0.0) * 2)")).toBe(f32(Math.SQRT2));
  });

  it("gives float64 functions correctly rounded, as CPython's libm: Python's numbers to the last bit", () => {
    // Python: math.cos(math.pi * 12 / 10) == -0.8090169943749476; JavaScript's Math.cos is one ulp off.
    expect(Math.cos((Math.PI * 12) / 10)).toBe(-0.8090169943749475);
    expect(value("math.cos(math.pi * 12 / 10)")).toBe(-0.8090169943749476);
    expect(value("0.5 * (1 + math.cos(math.pi * epoch / 10)) * 0.1", { epoch: 12 })).toBe(
      0.009549150281252623,
    );
    expect(value("0.96 ** 33")).toBe(0.2599864358413614);
    expect(value("math.log(8, 2)")).toBe(3);
    expect(value("np.log(0.3)")).toBe(-1.2039728043259361);
  });
});

describe("Python semantics", () => {
  it("has CPython's //, % and **, chained comparisons, and/or returning operands, x if c else y", () => {
    expect(value("1 // 0.1")).toBe(9); // not floor(1 / 0.1) = 10
    expect(value("-7.0 // 2")).toBe(-4);
    expect(value("-7 % 3")).toBe(2);
    expect(value("7 % -3")).toBe(-2);
    expect(value("2 ** -1")).toBe(0.5);
    expect(value("-2 ** 2")).toBe(-4);
    expect(value("2 ** 3 ** 2")).toBe(512);
    expect(value("0 < epoch <= 5", { epoch: 5 })).toBe(true);
    expect(value("0 < epoch <= 5", { epoch: 6 })).toBe(false);
    expect(value("0 or 0.5")).toBe(0.5);
    expect(value("epoch and lr", { epoch: 0, lr: 1 })).toBe(0);
    expect(value("not epoch", { epoch: 0 })).toBe(true);
    expect(value("lr if epoch < 10 else lr * 0.1", { epoch: 10, lr: 1 })).toBe(0.1);
    expect(value("True + True")).toBe(2);
    expect(value("1e-3 + 1_000 + .5")).toBe(1000.501);
    expect(value("min(3, 1, 2) + max(1, 4) + abs(-1) + pow(2, 3) + math.floor(1.5) + np.ceil(1.5)")).toBe(
      1 + 4 + 1 + 8 + 1 + 2,
    );
    expect(value("math.pi + math.e")).toBe(Math.PI + Math.E);
  });

  it("raises where Python raises", () => {
    expect(() => value("1 / x", { x: 0 })).toThrow("division by zero");
    expect(() => value("1 // x", { x: 0 })).toThrow("floor division by zero");
    expect(() => value("1 % x", { x: 0 })).toThrow("modulo by zero");
    expect(() => value("x ** -1", { x: 0 })).toThrow("0.0 cannot be raised to a negative power");
    expect(() => value("(-8) ** (1 / 3)")).toThrow("complex");
    expect(() => value("math.log(x)", { x: 0 })).toThrow("math.log: math domain error");
    expect(() => value("math.exp(1000)")).toThrow("math.exp: math range error");
    // NumPy and TF give -inf instead; the scheduler then refuses the rate.
    expect(value("np.log(x)", { x: 0 })).toBe(Number.NEGATIVE_INFINITY);
    expect(value("tf.math.log(x)", { x: 0 })).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe("statements", () => {
  it("takes the body without its def, one-line suites, elif chains, comments, continuations and annotations", () => {
    const body = "if epoch < 10:\n    return lr\nreturn lr * 0.5";
    expect([run(body, 9, 1), run(body, 10, 1)]).toEqual([1, 0.5]);
    const compact = [
      "def step(epoch: int, lr: float) -> float:  # halve every 10 epochs",
      "    if epoch < 10: return lr",
      "    elif epoch < 20: return lr * 0.5",
      "    return (lr *",
      "            0.25) \\",
      "        + 0",
    ].join("\n");
    expect([5, 15, 25].map((epoch) => run(compact, epoch, 1))).toEqual([1, 0.5, 0.25]);
    expect(run("\treturn lr\t# tabs", 0, 3)).toBe(3);
    expect(run("return lr if epoch % 2 == 0 else lr * 0.5", 3, 1)).toBe(0.5);
    expect(run("lr * math.exp(-0.1 * epoch)", 10, 1)).toBe(Math.exp(-1));
  });

  it("continues after an if statement none of whose branches returned, as Python does", () => {
    const nested = [
      "def scheduler(epoch, lr):",
      "    if epoch >= 10:",
      "        if epoch % 5 == 0:",
      "            return lr * 0.5",
      "    elif lr > 1:",
      "        return 1",
      "    return lr",
    ].join("\n");
    expect([10, 11, 2].map((epoch) => run(nested, epoch, 0.5))).toEqual([0.25, 0.5, 0.5]);
    expect(run(nested, 2, 4)).toBe(1);
    // Each statement is translated once: 20 of them in a row cost 20 times one, not 2^20.
    const guards = Array.from({ length: 20 }, (_, i) => `if epoch > ${i}:\n if lr > 1:\n  return ${i}\n`);
    const many = schedule(`${guards.join("")}return lr`);
    expect(many.evaluate({ epoch: 30, lr: 2 })).toBe(0);
    expect(many.evaluate({ epoch: 30, lr: 0.5 })).toBe(0.5);
  });

  it("ignores statements after a return, as Python never reaches them", () => {
    expect(run("return epoch\nreturn lr", 3, 1)).toBe(3);
  });
});

describe("what is outside the subset", () => {
  const refused = (source: string) => () => schedule(source);

  it.each([
    [
      "def scheduler(epoch, lr):\n    x = 0\n    for i in range(epoch):\n        x = x + 1",
      "line 2: assignments are not supported in a schedule; compute the value in the return statement (e.g. return lr * 0.9)",
    ],
    [
      "def scheduler(epoch, lr):\n    # decay\n    for i in range(3):\n        return lr",
      "line 3: for loops are not supported in a schedule; use if/elif/else and return",
    ],
    [
      "while epoch > 1:\n    return lr",
      "line 1: while loops are not supported in a schedule; use if/elif/else and return",
    ],
    ["lr *= 0.5", "line 1: assignments are not supported in a schedule"],
    ["import tensorflow as tf\nreturn lr", "line 1: imports are not supported in a schedule, nor needed"],
    ["from keras import ops\nreturn lr", "line 1: imports are not supported in a schedule, nor needed"],
    ["return lr.numpy()", "line 1: attribute access on a value is not supported (.numpy)"],
    [
      "return lr * tf.math.exp(-0.1).numpy()",
      "line 1: attribute access on a value is not supported (.numpy)",
    ],
    [
      "return tf.keras.backend.get_value(lr)",
      "line 1: tf.keras.backend.get_value() is not a supported function",
    ],
    ["return math.inf", "line 1: attribute access (math.inf) is not supported"],
    [
      "return lr * exp(-0.1)",
      "line 1: exp() is not a Python builtin; write math.exp(…) (float64) or tf.math.exp(…) (float32)",
    ],
    [
      "return round(lr, 3)",
      "line 1: round() is not a supported function; the functions are min, max, abs, float, pow",
    ],
    ["return math.tanh(lr)", "line 1: math.tanh() is not a supported function"],
    [
      "lambda epoch, lr: lr * 0.9",
      "line 1: lambdas are not supported in a schedule; write def with if/return",
    ],
    [
      'def scheduler(epoch, lr):\n    """Halves."""\n    return lr / 2',
      "line 2: strings are not supported in a schedule (docstrings included); use # comments",
    ],
    [
      "def scheduler(epoch, lr):\n    if epoch < 10:\n        return lr",
      "line 2: when no branch of this if statement is taken, the function ends without a return (Python would return None)",
    ],
    [
      "def scheduler(epoch, lr):\n    lr * 0.5",
      "line 2: this value is discarded (Python would not return it); write return before it",
    ],
    [
      "def scheduler(step, lr):\n    return lr",
      "line 1: a schedule's parameters must be (epoch, lr) or (epoch); got (step, lr)",
    ],
    [
      "def scheduler(epoch, lr=0.01):\n    return lr",
      "line 1: default values are not supported (parameter 'lr')",
    ],
    [
      "def scheduler(epoch):\n    return lr",
      "line 2: name 'lr' is not defined: the function's parameters are epoch",
    ],
    ["return lr * gamma", "line 1: name 'gamma' is not defined; a schedule can use epoch, lr"],
    ["return lr * e ** 2", "line 1: name 'e' is not defined (write math.e)"],
    ["return None", "line 1: None is not a number; a schedule must give a number"],
    [
      "return epoch < 10 ? lr : lr * tf.math.exp(-0.1)",
      "line 1: 'c ? a : b' is not Python: write a if c else b",
    ],
    ["return lr ^ 2", "line 1: '^' is bitwise xor in Python; write ** for a power"],
    ["return lr if epoch < 10", "line 1: a conditional expression needs else: x if condition else y"],
    ["return [lr, 0.1][epoch > 3]", "line 1: lists are not supported"],
    ["return lr, 0.1", "line 1: tuples are not supported; return one number"],
    ["return epoch in (1, 2)", "line 1: 'in' comparisons are not supported"],
    ["return tf.math.exp(x=1)", "line 1: keyword arguments are not supported (x=)"],
    ["return math.log(lr, 2, 3)", "line 1: math.log() takes 1 or 2 arguments, got 3"],
    ["if epoch < 10:\nreturn lr", "line 2: expected an indented block after the 'if' statement on line 1"],
    [
      "if epoch < 10:\n    return lr\n  else:\n    return 0.1",
      "line 3: unindent does not match any outer indentation level",
    ],
    [
      "if epoch < 10:\n    return lr\nelse if epoch < 20:\n    return 0.1",
      "line 3: Python writes 'elif', not 'else if'",
    ],
    [
      "def scheduler(epoch, lr):\n    return lr\ndef other(epoch, lr):\n    return lr",
      "line 3: only the one function is allowed",
    ],
    ["return (lr *\n  0.5", "line 1: '(' was never closed"],
    ["return lr; return 1", "line 1: ';' between statements is not supported; write one statement per line"],
  ])("refuses %j", (source, message) => {
    expect(refused(source)).toThrow(message);
  });

  it("reports the line at the schedule's path in a job spec", () => {
    const source =
      "def scheduler(epoch, lr):\n    if epoch < 10:\n        return lr\n    for i in range(3):\n        lr = lr * 0.9";
    expect(validateCallbackSpecs([{ type: "LearningRateScheduler", schedule: source }])).toEqual([
      {
        path: "/0/schedule",
        message: "line 4: for loops are not supported in a schedule; use if/elif/else and return",
      },
    ]);
  });

  it("keeps the bounds: length, parentheses, depth and terms", () => {
    const filler = `# ${"x".repeat(EXPRESSION_LIMITS.length)}\nreturn lr`;
    expect(refused(filler)).toThrow(`expression has ${filler.length} characters; at most 1000 are allowed`);
    expect(refused(`return ${"(".repeat(60)}lr${")".repeat(60)}`)).toThrow("parentheses are nested 60 deep");
    expect(refused(`return ${"-".repeat(300)}lr`)).toThrow(/^expression is nested more than 50 levels deep/);
    expect(refused(`return ${"not ".repeat(200)}lr`)).toThrow(
      /^expression is nested more than 50 levels deep/,
    );
    expect(refused(`return max(${Array(320).fill("lr").join(",")})`)).toThrow(
      /^expression has more than 300 terms/,
    );
    const elifs = "elif 0:return 0\n".repeat(55);
    expect(refused(`if lr>1:return lr\n${elifs}else:return lr`)).toThrow(/nested more than 50 levels/);
  });
});

describe("which language a text is read as", () => {
  it("reads every expression the expression language accepts exactly as before", () => {
    for (const source of [
      "lr < 0.001 ? lr * 1.5 : epoch < 5 ? lr : epoch < 10 ? lr * exp(-0.1) : lr * exp(-0.05)",
      "epoch < 10 ? lr : lr * exp(-0.1)",
      "lr / 2",
      "2 ^ 0.5 * e * pi",
      "val_loss > 1.5 * loss and epoch >= 3",
      "epoch % 5 == 4",
      "lr * 0.5 # halve",
      "(epoch < 2 ?\n lr : lr * 0.5)",
    ]) {
      expect(isPythonSource(source)).toBe(false);
      const scope = { epoch: 12, lr: 0.01, val_loss: 2, loss: 1 };
      expect(compileSource(source).evaluate(scope)).toBe(compileExpression(source).evaluate(scope));
    }
    // Its own refusals are unchanged too.
    expect(() => compileSource('import("fs")')).toThrow("'import' is not an allowed function");
    expect(() => compileSource("lr = 1")).toThrow("assignment is not allowed");
  });

  it("reads a def, a statement or a token only Python has as Python", () => {
    for (const source of [
      KERAS_GUIDE,
      KERAS_DOCTEST,
      "return lr",
      "if epoch < 3:\n    return lr\nreturn lr / 2",
      "lr * 0.5 if epoch > 3 else lr",
      "lr ** 2",
      "epoch // 10",
      "lr * tf.math.exp(-0.1)",
      "True",
      "lr += 1",
    ]) {
      expect(isPythonSource(source)).toBe(true);
    }
  });

  it("says what makes several lines Python when they are not", () => {
    expect(() => compileSource("lr * 0.5\nlr * 0.1")).toThrow(
      "several lines are read as Python only with a def, return or if statement",
    );
  });
});

describe("Rule expressions in Python", () => {
  it("accepts a condition and a set_learning_rate body, and names their lines at their paths", () => {
    const rule = {
      type: "Rule",
      on: "epoch_end",
      if: "def plateaued(val_loss, loss):\n    return val_loss > 1.5 * loss",
      then: { set_learning_rate: "if epoch < 3:\n    return lr\nreturn lr * tf.math.exp(-0.5)" },
    };
    expect(validateCallbackSpecs([rule])).toEqual([]);
    expect(
      validateCallbackSpecs([
        { ...rule, if: "for m in metrics:\n    return m" },
        {
          ...rule,
          on: "epoch_begin",
          if: "epoch > 1",
          then: { set_learning_rate: "def f(epoch, loss):\n    return lr" },
        },
      ]),
    ).toEqual([
      {
        path: "/0/if",
        message: "line 1: for loops are not supported in a Rule expression; use if/elif/else and return",
      },
      {
        path: "/1/then/set_learning_rate",
        message:
          "line 1: parameter 'loss' is not available in a Rule expression; available: epoch, lr, fired",
      },
    ]);
  });

  it("runs in simulate with float32 tensor arithmetic", async () => {
    const result = await simulate({
      callbacks: [
        {
          type: "Rule",
          on: "epoch_begin",
          if: "epoch >= 2",
          then: { set_learning_rate: "return lr * tf.math.exp(-0.5)" },
        },
      ],
      optimizer: { name: "sgd", learning_rate: 0.1 },
      epochs: Array.from({ length: 4 }, () => ({ logs: { loss: 1 } })),
    });
    const e = f32(Math.exp(f32(-0.5)));
    const lr = f32(0.1);
    expect(result.epochs.map((epoch) => epoch.learning_rate)).toEqual([
      lr,
      lr,
      f32(lr * e),
      f32(f32(lr * e) * e),
    ]);
  });
});
