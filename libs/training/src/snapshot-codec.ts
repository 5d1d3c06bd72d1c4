import type { JsonObject } from "@plateau/callbacks";
import type { RandomState } from "./random";
import type { EpochTotalsState, StateTensor, TrainingState } from "./run";

/** A resume snapshot: a training state plus the random generator's position at that point. */
export interface ResumeSnapshot {
  state: TrainingState;
  random: RandomState;
}

/**
 * Snapshots are read by whatever worker version picks the job up next, so the format is plain and
 * versioned rather than a runtime's own serialization: a magic line, the header's length (uint32 LE),
 * a JSON header, then every tensor's bytes in header order.
 */
const MAGIC = "plateau-snapshot/1\n";

interface TensorEntry {
  name: string;
  shape: number[];
  dtype: StateTensor["dtype"];
  bytes: number;
}

interface Header {
  epoch: number;
  /** Present for a snapshot taken inside epoch `epoch`, with that epoch's running totals. */
  batch?: number;
  totals?: EpochTotalsState;
  learningRate: number;
  callbacks: JsonObject[];
  random: RandomState;
  weights: TensorEntry[];
  optimizer: TensorEntry[];
  /** The shuffle order's length, when there is one (its int32s come after the tensors). */
  order?: number;
}

const entry = ({ name, shape, dtype, values }: StateTensor): TensorEntry => ({
  name,
  shape,
  dtype,
  bytes: values.byteLength,
});

export function encodeSnapshot({ state, random }: ResumeSnapshot): Uint8Array {
  const header: Header = {
    epoch: state.epoch,
    ...(state.batch && { batch: state.batch, totals: state.totals }),
    learningRate: state.learningRate,
    callbacks: state.callbacks,
    random,
    weights: state.weights.map(entry),
    optimizer: state.optimizer.map(entry),
    ...(state.order && { order: state.order.length }),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const magic = new TextEncoder().encode(MAGIC);
  const tensors = [...state.weights, ...state.optimizer].map((t) => t.values);
  if (state.order) tensors.push(state.order);
  const size = magic.length + 4 + json.length + tensors.reduce((sum, values) => sum + values.byteLength, 0);
  const out = new Uint8Array(size);
  out.set(magic, 0);
  new DataView(out.buffer).setUint32(magic.length, json.length, true);
  out.set(json, magic.length + 4);
  let offset = magic.length + 4 + json.length;
  for (const values of tensors) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), offset);
    offset += values.byteLength;
  }
  return out;
}

const ARRAYS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;

export function decodeSnapshot(bytes: Uint8Array): ResumeSnapshot {
  const magic = new TextEncoder().encode(MAGIC);
  if (new TextDecoder().decode(bytes.subarray(0, magic.length)) !== MAGIC) {
    throw new Error("not a Plateau resume snapshot (or a version this worker cannot read)");
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(magic.length, true);
  let offset = magic.length + 4;
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(offset, offset + length))) as Header;
  offset += length;
  const read = (e: TensorEntry): StateTensor => {
    const Values = ARRAYS[e.dtype as keyof typeof ARRAYS];
    if (!Values) throw new Error(`a snapshot tensor has dtype ${e.dtype}, which Plateau does not store`);
    if (offset + e.bytes > bytes.length) throw new Error("the snapshot is truncated");
    // A copy: the bytes of one tensor need not be aligned for its element type within the file.
    const values = new Values(bytes.slice(offset, offset + e.bytes).buffer);
    offset += e.bytes;
    return { name: e.name, shape: e.shape, dtype: e.dtype, values };
  };
  const weights = header.weights.map(read);
  const optimizer = header.optimizer.map(read);
  const order =
    header.order === undefined
      ? undefined
      : (read({ name: "order", shape: [header.order], dtype: "int32", bytes: header.order * 4 })
          .values as Int32Array);
  return {
    state: {
      epoch: header.epoch,
      ...(header.batch && { batch: header.batch, totals: header.totals }),
      learningRate: header.learningRate,
      callbacks: header.callbacks,
      weights,
      optimizer,
      ...(order && { order }),
    },
    random: header.random,
  };
}
