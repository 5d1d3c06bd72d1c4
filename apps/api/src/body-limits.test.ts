import { describe, expect, it } from "vitest";
import { MAX_BODY_DEPTH, parseJsonBody } from "./body-limits";
import { ApiError } from "./errors";

function failure(text: string, maxDepth?: number): ApiError {
  try {
    parseJsonBody(text, maxDepth);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error(`accepted ${text.slice(0, 80)}`);
}

describe("parseJsonBody", () => {
  it("parses documents up to the depth bound", () => {
    const deepest = "[".repeat(MAX_BODY_DEPTH) + "]".repeat(MAX_BODY_DEPTH);
    expect(parseJsonBody(deepest)).toBeInstanceOf(Array);
    expect(parseJsonBody('{"a": {"b": [1, "x]}{[", {"c": null}]}}')).toEqual({
      a: { b: [1, "x]}{[", { c: null }] },
    });
  });

  it("refuses 10,000 levels before parsing, naming where the bound was crossed", () => {
    const error = failure("[".repeat(10_000) + "]".repeat(10_000));
    expect(error.statusCode).toBe(400);
    expect(error.details).toEqual([
      { path: "/0".repeat(MAX_BODY_DEPTH), message: "nests deeper than 64 levels" },
    ]);
  });

  it("names object keys and array indices on the way down, escapes and brackets in strings included", () => {
    const text = '{"x": 1, "a/b": [0, "[[[", {"k\\"ey": [[[{"z": [1]}]]]}]}';
    expect(failure(text, 5).details).toEqual([
      { path: '/a~1b/2/k"ey/0/0', message: "nests deeper than 5 levels" },
    ]);
  });

  it.each([
    ['{"__proto__": {"polluted": true}}', "/__proto__"],
    [
      '{"callbacks": [{"type": "EarlyStopping", "constructor": {"prototype": {}}}]}',
      "/callbacks/0/constructor",
    ],
    ['{"a": {"\\u005f_proto__": 1}}', "/a/__proto__"],
  ])("refuses reserved property names anywhere: %s", (text, path) => {
    const error = failure(text);
    expect(error.statusCode).toBe(400);
    expect(error.details).toEqual([{ path, message: "is a reserved property name" }]);
    expect(error.message).toContain(path);
  });

  it.each([
    ['{"name": "x', /not valid JSON/],
    ["", /empty/],
    ["{'a': 1}", /not valid JSON/],
    ["[1, 2,]", /not valid JSON/],
  ])("answers %j with a 400 saying what is wrong", (text, message) => {
    const error = failure(text);
    expect(error.statusCode).toBe(400);
    expect(error.message).toMatch(message);
  });

  it("refuses numbers beyond a double's range, which JSON.parse would turn into Infinity", () => {
    const error = failure('{"fit": {"epochs": 1e400}, "x": [-1e309]}');
    expect(error.statusCode).toBe(400);
    expect(error.details.map((issue) => issue.path).sort()).toEqual(["/fit/epochs", "/x/0"]);
    expect(error.details[0].message).toMatch(/too large/);
  });

  it("keeps everything else as JSON.parse reads it: big finite numbers, -0, unicode", () => {
    expect(parseJsonBody('{"n": 1.7e308, "i": 9007199254740993, "m": -0, "u": "\\u2028é🎉"}')).toEqual({
      n: 1.7e308,
      i: 9007199254740992,
      m: -0,
      u: "\u2028é🎉",
    });
  });
});
