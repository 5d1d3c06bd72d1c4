/**
 * NumPy's `.npy` (one array, `np.save`) and `.npz` (a zip of them, `np.savez`/`np.savez_compressed`)
 * read into float32 values with their shape. npyjs parses; this module refuses what the trainer must not
 * take: object arrays (a pickle would run code, so it is never unpickled), Fortran order, big-endian,
 * complex and string dtypes, a data block of the wrong length, too many dimensions, and more than the
 * caller's bounds — all checked from the header and zip directory before the float32 copy is made.
 */
import { unzipSync } from "fflate";
import { parse } from "npyjs";
import { TableError } from "./table-error";

export const ARRAY_FORMATS = ["npy", "npz"] as const;
export type ArrayFormat = (typeof ARRAY_FORMATS)[number];

/** At most this many dimensions, the sample axis included (Conv3D data has 5). */
export const MAX_ARRAY_RANK = 6;
/** At most this many arrays in one .npz. */
export const MAX_NPZ_ARRAYS = 64;

/** dtypes read, by npyjs's code, with the name NumPy prints. */
const DTYPES: Record<string, string> = {
  f2: "float16",
  f4: "float32",
  f8: "float64",
  i1: "int8",
  i2: "int16",
  i4: "int32",
  i8: "int64",
  u1: "uint8",
  u2: "uint16",
  u4: "uint32",
  u8: "uint64",
  b1: "bool",
};
const ACCEPTED = "float16/32/64, int8/16/32/64, uint8/16/32/64 or bool";

export interface NdArray {
  shape: number[];
  values: Float32Array;
}

/** What an array holds, as an upload's summary lists it. */
export type ArrayInfo = {
  name: string;
  dtype: string;
  shape: number[];
};

export interface ArrayLimits {
  /** Most values one array may hold (the service's MAX_DATA_CELLS). */
  maxValues?: number;
  /** Most bytes an .npz may inflate to, all entries together. */
  maxBytes?: number;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A view of one array's header and data, unconverted (npyjs views the bytes; it copies only bool). */
function view(bytes: Uint8Array, name: string) {
  // npyjs reads from the start of an ArrayBuffer.
  const buffer =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? (bytes.buffer as ArrayBuffer)
      : (bytes.slice().buffer as ArrayBuffer);
  const header = headerText(bytes, name);
  if (/'descr'\s*:\s*'[<>|=]?O/.test(header)) {
    throw new TableError(
      `${name} is an object array (a Python pickle): refused, since unpickling runs code; save numbers (e.g. x.astype("float32"))`,
    );
  }
  if (/'fortran_order'\s*:\s*True/.test(header)) {
    throw new TableError(
      `${name} is in Fortran order; save it in C order (np.save(path, np.ascontiguousarray(x)))`,
    );
  }
  let array: ReturnType<typeof parse>;
  try {
    array = parse(buffer);
  } catch (error) {
    const dtype = /Unsupported dtype: (.*)/.exec((error as Error).message)?.[1];
    if (dtype) {
      const why = dtype.startsWith(">") ? " (big-endian: save it with .astype('<f4'))" : "";
      throw new TableError(`${name} has dtype ${dtype}${why}; accepted: ${ACCEPTED}`);
    }
    if (error instanceof RangeError) {
      throw new TableError(`${name} has a data block whose length does not fit its dtype (truncated?)`);
    }
    throw new TableError(
      `${name} has a header this reader cannot use (a structured dtype?): save a plain array`,
    );
  }
  const dtype = DTYPES[array.dtype];
  if (dtype === undefined) throw new TableError(`${name} has dtype ${array.dtype}; accepted: ${ACCEPTED}`);
  const { shape } = array;
  if (shape.length === 0)
    throw new TableError(`${name} is a single number; it needs a first axis of samples`);
  if (shape.length > MAX_ARRAY_RANK) {
    throw new TableError(
      `${name} has ${shape.length} dimensions ${JSON.stringify(shape)}; at most ${MAX_ARRAY_RANK} are accepted`,
    );
  }
  if (shape.some((size) => !Number.isSafeInteger(size) || size < 1)) {
    throw new TableError(`${name} has shape ${JSON.stringify(shape)}; every dimension must be at least 1`);
  }
  const length = (array.data as unknown as ArrayLike<unknown>).length;
  if (length !== product(shape)) {
    throw new TableError(
      `${name} has shape ${JSON.stringify(shape)} (${product(shape)} values) but its data holds ${length} (truncated or padded file)`,
    );
  }
  return { shape, dtype, data: array.data as unknown as ArrayLike<number | bigint | boolean> };
}

/** The header's dict text, or a TableError for a file that is not an .npy. */
function headerText(bytes: Uint8Array, name: string): string {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((byte, i) => bytes[i] !== byte)) {
    throw new TableError(`${name} is not a .npy array (no \\x93NUMPY magic at its start)`);
  }
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [offset, length] = bytes[6] <= 1 ? [10, data.getUint16(8, true)] : [12, data.getUint32(8, true)];
  if (offset + length > bytes.length) throw new TableError(`${name} ends inside its header`);
  return new TextDecoder("latin1").decode(bytes.subarray(offset, offset + length));
}

function toFloat32(data: ArrayLike<number | bigint | boolean>): Float32Array {
  if (data instanceof Float32Array) return data.slice();
  const values = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) values[i] = Number(data[i]);
  return values;
}

function checked(bytes: Uint8Array, name: string, limits: ArrayLimits) {
  const array = view(bytes, name);
  const count = product(array.shape);
  if (limits.maxValues !== undefined && count > limits.maxValues) {
    throw new TableError(
      `${name} has shape ${JSON.stringify(array.shape)}, ${count.toLocaleString("en-US")} values; this service accepts at most ${limits.maxValues.toLocaleString("en-US")} cells of data per job (MAX_DATA_CELLS)`,
    );
  }
  return array;
}

/** The arrays' entries of an .npz, by array name (the entry's name without ".npy"). */
function entries(bytes: Uint8Array, limits: ArrayLimits): Map<string, Uint8Array> {
  let declared = 0;
  let count = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      // The zip directory's sizes, before anything is inflated: a zip bomb stops here.
      filter: (file) => {
        declared += file.originalSize;
        if (++count > MAX_NPZ_ARRAYS) {
          throw new TableError(`the .npz holds more than ${MAX_NPZ_ARRAYS} arrays`);
        }
        if (limits.maxBytes !== undefined && declared > limits.maxBytes) {
          throw new TableError(
            `the .npz inflates to more than ${limits.maxBytes.toLocaleString("en-US")} bytes`,
          );
        }
        return true;
      },
    });
  } catch (error) {
    if (error instanceof TableError) throw error;
    throw new TableError(`not a readable .npz (zip) file: ${(error as Error).message}`);
  }
  const arrays = new Map<string, Uint8Array>();
  for (const [file, content] of Object.entries(files)) {
    if (!file.endsWith(".npy")) throw new TableError(`the .npz holds ${file}, which is not an .npy array`);
    arrays.set(file.slice(0, -4), content);
  }
  if (arrays.size === 0) throw new TableError("the .npz holds no arrays");
  return arrays;
}

/**
 * Arrays of an .npy (named `array`) or .npz file, read lazily: `info` lists every array (checked) and
 * `read` converts one to float32.
 */
export function openArrays(bytes: Uint8Array, format: ArrayFormat, limits: ArrayLimits = {}) {
  const files = format === "npy" ? new Map([["array", bytes]]) : entries(bytes, limits);
  const label = (name: string) => (format === "npy" ? "the .npy" : `array '${name}' of the .npz`);
  return {
    names: [...files.keys()],
    info(): ArrayInfo[] {
      return [...files].map(([name, content]) => {
        const { shape, dtype } = checked(content, label(name), limits);
        return { name, dtype, shape };
      });
    },
    read(name: string): NdArray {
      const content = files.get(name);
      if (content === undefined) {
        throw new TableError(`the .npz has no array '${name}'; it holds: ${[...files.keys()].join(", ")}`);
      }
      const { shape, data } = checked(content, label(name), limits);
      return { shape, values: toFloat32(data) };
    },
  };
}

/**
 * Checks an uploaded .npy/.npz as its bytes arrive and, at the end, summarises it like a table: its
 * array names, the first array's samples, and each array's dtype and shape. The bytes are held until
 * the end (the caller bounds them, MAX_UPLOAD_BYTES): a zip's directory is at its end.
 */
export class ArrayReader {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  constructor(
    private readonly format: ArrayFormat,
    private readonly limits: ArrayLimits = {},
  ) {}

  write(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  end(): { columns: string[]; rows: number; arrays: ArrayInfo[] } {
    const bytes = new Uint8Array(this.size);
    let at = 0;
    for (const chunk of this.chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    const arrays = openArrays(bytes, this.format, this.limits).info();
    return { columns: arrays.map((array) => array.name), rows: arrays[0].shape[0], arrays };
  }
}
