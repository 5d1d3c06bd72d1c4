import { zipSync } from "fflate";
import { dump } from "npyjs";
import { describe, expect, it } from "vitest";
import { ArrayReader, openArrays, TableError } from "./index";

const npy = (values: Parameters<typeof dump>[0], shape: number[]) => new Uint8Array(dump(values, shape));

/** The file with a header value swapped for another of the same length (padding keeps the layout). */
function edited(file: Uint8Array, from: string, to: string): Uint8Array {
  const text = new TextDecoder("latin1").decode(file);
  const at = text.indexOf(from);
  const out = file.slice();
  out.set(
    Array.from(to.padEnd(from.length), (c) => c.charCodeAt(0)),
    at,
  );
  return out;
}

function errorOf(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(TableError);
    return (error as Error).message;
  }
  throw new Error("expected a TableError");
}

describe(".npy", () => {
  it("reads every accepted dtype as float32 with its shape, in C order", () => {
    const cases: [Parameters<typeof dump>[0], string][] = [
      [new Float32Array([0.5, 1, 2, 3, 4, 5]), "float32"],
      [new Float64Array([0.5, 1, 2, 3, 4, 5]), "float64"],
      [new Uint8Array([0, 1, 2, 3, 4, 255]), "uint8"],
      [new Int32Array([-1, 1, 2, 3, 4, 5]), "int32"],
      [new BigInt64Array([-1n, 1n, 2n, 3n, 4n, 5n]), "int64"],
    ];
    for (const [values, dtype] of cases) {
      const file = openArrays(npy(values, [2, 3]), "npy");
      expect(file.info()).toEqual([{ name: "array", dtype, shape: [2, 3] }]);
      const array = file.read("array");
      expect(array.shape).toEqual([2, 3]);
      expect(Array.from(array.values)).toEqual(Array.from(values, Number));
    }
    const bools = edited(npy(new Uint8Array([1, 0, 1]), [3]), "|u1", "|b1");
    expect(Array.from(openArrays(bools, "npy").read("array").values)).toEqual([1, 0, 1]);
  });

  it("refuses pickles, Fortran order, big-endian and complex dtypes, and files of the wrong length", () => {
    const base = npy(new Float32Array([1, 2, 3, 4]), [2, 2]);
    expect(errorOf(() => openArrays(edited(base, "'<f4'", "'|O'"), "npy").info())).toMatch(
      /^the .npy is an object array \(a Python pickle\): refused, since unpickling runs code/,
    );
    expect(errorOf(() => openArrays(edited(base, "False", "True"), "npy").info())).toMatch(
      /^the .npy is in Fortran order; save it in C order/,
    );
    expect(errorOf(() => openArrays(edited(base, "<f4", ">f4"), "npy").info())).toBe(
      "the .npy has dtype >f4 (big-endian: save it with .astype('<f4')); accepted: float16/32/64, int8/16/32/64, uint8/16/32/64 or bool",
    );
    expect(errorOf(() => openArrays(edited(base, "<f4", "<c8"), "npy").info())).toMatch(/has dtype c8/);
    expect(errorOf(() => openArrays(base.subarray(0, base.length - 4), "npy").info())).toBe(
      "the .npy has shape [2,2] (4 values) but its data holds 3 (truncated or padded file)",
    );
    expect(errorOf(() => openArrays(base.subarray(0, base.length - 2), "npy").info())).toMatch(/truncated/);
    expect(errorOf(() => openArrays(new TextEncoder().encode("a,b\n1,2\n"), "npy").info())).toMatch(
      /is not a .npy array/,
    );
  });

  it("bounds rank and size from the header, before converting", () => {
    const deep = npy(new Float32Array(1), [1, 1, 1, 1, 1, 1, 1]);
    expect(errorOf(() => openArrays(deep, "npy").info())).toBe(
      "the .npy has 7 dimensions [1,1,1,1,1,1,1]; at most 6 are accepted",
    );
    const big = npy(new Float32Array(12), [3, 4]);
    expect(errorOf(() => openArrays(big, "npy", { maxValues: 10 }).read("array"))).toMatch(
      /has shape \[3,4\], 12 values; this service accepts at most 10 cells/,
    );
  });
});

describe(".npz", () => {
  const x = npy(new Float32Array([1, 2, 3, 4]), [2, 2]);
  const y = npy(new Uint8Array([0, 1]), [2]);

  it("reads named arrays, stored or deflated, and lists them", () => {
    for (const level of [0, 6] as const) {
      const file = openArrays(zipSync({ "x.npy": x, "y.npy": y }, { level }), "npz");
      expect(file.names).toEqual(["x", "y"]);
      expect(file.info().map((array) => array.shape)).toEqual([[2, 2], [2]]);
      expect(Array.from(file.read("y").values)).toEqual([0, 1]);
    }
  });

  it("refuses a zip that would inflate past the bound, before inflating it", () => {
    const zeros = npy(new Float64Array(100_000), [100_000]);
    const bomb = zipSync({ "x.npy": zeros }, { level: 9 });
    expect(bomb.length).toBeLessThan(10_000);
    expect(errorOf(() => openArrays(bomb, "npz", { maxBytes: 100_000 }))).toBe(
      "the .npz inflates to more than 100,000 bytes",
    );
    expect(errorOf(() => openArrays(zipSync({ "notes.txt": new Uint8Array(3) }), "npz"))).toMatch(
      /holds notes.txt, which is not an .npy array/,
    );
    expect(errorOf(() => openArrays(x, "npz"))).toMatch(/^not a readable .npz \(zip\) file/);
  });

  it("summarises an upload fed in chunks like a table: names, samples, dtypes and shapes", () => {
    const bytes = zipSync({ "x.npy": x, "y.npy": y });
    const reader = new ArrayReader("npz");
    for (let at = 0; at < bytes.length; at += 7) reader.write(bytes.subarray(at, at + 7));
    expect(reader.end()).toEqual({
      columns: ["x", "y"],
      rows: 2,
      arrays: [
        { name: "x", dtype: "float32", shape: [2, 2] },
        { name: "y", dtype: "uint8", shape: [2] },
      ],
    });
  });
});
