import { describe, expect, it } from "vitest";
import {
  compileExpression,
  EXPRESSION_LIMITS,
  ExpressionError,
  evaluateCondition,
  evaluateNumber,
} from "./expression";

const value = (source: string, scope: Record<string, number | boolean> = {}) =>
  compileExpression(source).evaluate(scope);

describe("expression language", () => {
  it("evaluates the Keras guide scheduler written as a ternary", () => {
    const expression = compileExpression(
      "lr < 0.001 ? lr * 1.5 : epoch < 5 ? lr : epoch < 10 ? lr * exp(-0.1) : lr * exp(-0.05)",
      {
        variables: ["epoch", "lr"],
      },
    );
    expect(evaluateNumber(expression, { epoch: 2, lr: 0.0005 })).toBe(0.0005 * 1.5);
    expect(evaluateNumber(expression, { epoch: 3, lr: 0.01 })).toBe(0.01);
    expect(evaluateNumber(expression, { epoch: 7, lr: 0.01 })).toBe(
      0.01 * Math.fround(Math.exp(Math.fround(-0.1))),
    );
    expect(evaluateNumber(expression, { epoch: 12, lr: 0.01 })).toBe(
      0.01 * Math.fround(Math.exp(Math.fround(-0.05))),
    );
  });

  it("computes exp, log, sqrt, pow and cos at float32 like tf.math, and arithmetic with doubles like Python", () => {
    // float32 exp(-0.05) is 0.95122945…, the correctly rounded value (NumPy's SIMD exp gives one ulp less).
    expect(value("exp(-0.05)")).toBe(0.951229453086853);
    expect(value("sqrt(2)")).toBe(Math.fround(Math.SQRT2));
    expect(value("pow(2, 0.5)")).toBe(Math.fround(Math.SQRT2));
    // Like tf.math.log(float32(e)): e rounds down at float32, so the result is just below 1.
    expect(value("log(e)")).toBe(0.9999999403953552);
    expect(value("log(8, 2)")).toBe(3);
    expect(value("cos(pi)")).toBe(-1);
    expect(value("0.1 + 0.2")).toBe(0.1 + 0.2);
    expect(value("2 ^ 0.5")).toBe(Math.SQRT2);
  });

  it("has Python's operators: floor modulo, short-circuit and/or returning operands, chained comparisons", () => {
    expect(value("-7 % 3")).toBe(2);
    expect(value("7 % -3")).toBe(-2);
    expect(value("epoch % 10 == 0", { epoch: 20 })).toBe(true);
    expect(value("0 or 0.5")).toBe(0.5);
    expect(value("1 and 0")).toBe(0);
    expect(value("0 and missing")).toBe(0);
    expect(value("not 0")).toBe(true);
    expect(value("0 < epoch <= 5", { epoch: 5 })).toBe(true);
    expect(value("0 < epoch <= 5", { epoch: 6 })).toBe(false);
    expect(value("min(3, 1, 2) + max(1, 4) + abs(-1) + floor(1.5) + ceil(1.5)")).toBe(1 + 4 + 1 + 1 + 2);
    expect(value("(epoch > 2) * 0.1", { epoch: 3 })).toBe(0.1);
  });

  it("compares exactly, without mathjs's relative tolerance", () => {
    const almost = 0.001 * (1 - 1e-14);
    expect(evaluateCondition(compileExpression("lr < 0.001"), { lr: almost })).toBe(true);
    expect(evaluateCondition(compileExpression("lr == 0.001"), { lr: almost })).toBe(false);
  });

  it("treats NaN as true and 0 as false in conditions, as Python's bool() does", () => {
    expect(evaluateCondition(compileExpression("x"), { x: Number.NaN })).toBe(true);
    expect(evaluateCondition(compileExpression("x"), { x: 0 })).toBe(false);
  });

  it("names an unknown variable, at compile time when the variables are fixed", () => {
    expect(() => compileExpression("lr * gamma", { variables: ["epoch", "lr"] })).toThrow(
      "unknown variable 'gamma'; allowed: epoch, lr",
    );
    const open = compileExpression("val_los > 1");
    expect(open.variables).toEqual(["val_los"]);
    expect(() => open.evaluate({ loss: 1, val_loss: 2 })).toThrow(
      "unknown variable 'val_los'; available: loss, val_loss",
    );
  });

  it("reports syntax errors with the position", () => {
    expect(() => compileExpression("lr *")).toThrow(/^syntax error: .*char 5/);
    expect(() => compileExpression("epoch < 5 ? lr")).toThrow(ExpressionError);
    expect(() => compileExpression("  ")).toThrow("expression is empty");
  });

  it("raises Python's ZeroDivisionError instead of returning infinity", () => {
    expect(() => value("1 / x", { x: 0 })).toThrow("division by zero");
    expect(() => value("1 % x", { x: 0 })).toThrow("modulo by zero");
  });

  it.each([
    ['import({"exp": 1}, {override: true})', /'import' is not an allowed function/],
    ['evaluate("1 + 1")', /'evaluate' is not an allowed function/],
    ['parse("1")', /'parse' is not an allowed function/],
    ['createUnit("foo")', /'createUnit' is not an allowed function/],
    ['simplify("x")', /'simplify' is not an allowed function/],
    ["f(x) = x", /defining functions is not allowed/],
    ["lr = 1", /assignment is not allowed/],
    ["lr.constructor", /property access and indexing are not allowed/],
    ['lr["constructor"]', /property access and indexing are not allowed/],
    ["exp.constructor", /property access/],
    ["[1, 2]", /arrays are not allowed/],
    ["{a: 1}", /objects are not allowed/],
    ["1:3", /ranges are not allowed/],
    ["lr; 1", /only one expression/],
    ['"text"', /string values are not allowed/],
    ["5 cm", /write '\*' explicitly/],
    ["2 lr", /write '\*' explicitly/],
    ["lr!", /operator '!' is not allowed/],
    ["lr & 1", /operator '&' is not allowed/],
    ["exp", /'exp' is a function/],
    ["exp(1, 2)", /exp\(\) takes 1 argument/],
    ["max(1)", /max\(\) takes at least 2 argument/],
    ["(exp)(1)", /write '\*' explicitly/],
    ["lr * foo.bar(1)", /'foo.bar' is not an allowed function/],
  ])("rejects %s", (source, message) => {
    expect(() => compileExpression(source, { variables: ["lr"] })).toThrow(message);
  });

  it("evaluates each node at most once: and/or chains cost their length, not 2^depth", () => {
    let reads = 0;
    const scope = Object.defineProperty({}, "lr", {
      enumerable: true,
      get: () => {
        reads += 1;
        return 1;
      },
    });
    // Left-deep: ((lr or lr) or lr) or …; each level used to evaluate its left operand twice.
    const or = compileExpression(Array(45).fill("lr").join(" or "));
    expect(or.evaluate(scope)).toBe(1);
    expect(reads).toBe(1);
    reads = 0;
    const and = compileExpression(Array(45).fill("lr").join(" and "));
    expect(and.evaluate(scope)).toBe(1);
    expect(reads).toBe(45);
  });

  it("refuses what is nested too deeply or too large, with a precise message, before recursing into it", () => {
    const refuse = (source: string) => () => compileExpression(source, { variables: ["lr"] });
    expect(EXPRESSION_LIMITS).toEqual({ length: 1000, depth: 50, nodes: 300 });
    expect(refuse(`${"(".repeat(499)}lr${")".repeat(499)}`)).toThrow(
      "parentheses are nested 499 deep; at most 50 levels are allowed",
    );
    expect(refuse(`${"-(".repeat(332)}lr${")".repeat(332)}`)).toThrow("parentheses are nested 332 deep");
    expect(refuse(`${"-".repeat(998)}lr`)).toThrow(/^expression is nested more than 50 levels deep/);
    expect(refuse(`${"not ".repeat(240)}lr`)).toThrow(/^expression is nested more than 50 levels deep/);
    expect(refuse(`${"lr > 0 ? lr : ".repeat(60)}lr`)).toThrow(
      /^expression is nested more than 50 levels deep/,
    );
    expect(refuse(Array(300).fill("lr").join("+"))).toThrow(/^expression is nested more than 50 levels deep/);
    expect(refuse(`max(${Array(320).fill("lr").join(",")})`)).toThrow(/^expression has more than 300 terms/);
    expect(refuse(`lr${" ".repeat(1000)}`)).toThrow(
      "expression has 1002 characters; at most 1000 are allowed",
    );
    expect(refuse("sum(1:1e9)")).toThrow("'sum' is not an allowed function");
    expect(refuse("1:1e9")).toThrow("ranges are not allowed");
    // Within the limits: 24 nested negations (48 levels with their parentheses), 150 terms.
    expect(compileExpression(`${"-(".repeat(24)}lr${")".repeat(24)}`).evaluate({ lr: 2 })).toBe(2);
    expect(compileExpression(`max(${Array(149).fill("lr").join(",")})`).evaluate({ lr: 2 })).toBe(2);
  });

  it("cannot reach JavaScript objects through the scope", () => {
    const expression = compileExpression("constructor");
    expect(() => expression.evaluate({})).toThrow("unknown variable 'constructor'");
    expect(() => compileExpression("toString").evaluate({ x: 1 })).toThrow("unknown variable 'toString'");
  });
});
