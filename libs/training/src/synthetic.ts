/**
 * Seeded synthetic datasets: the same name, samples and seed always give the same rows, on any machine,
 * so a job spec fully determines its data.
 */

export interface Table {
  x: number[][];
  /** One label per row: a class index, or a target value (or vector) for regression. */
  y: number[] | number[][];
  features: string[];
  classes?: string[];
}

/** mulberry32: a tiny 32-bit PRNG with good statistical quality for data generation. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): () => number {
  return () => {
    // Box–Muller; 1 - u keeps the log argument in (0, 1].
    const u = 1 - random();
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export interface SyntheticOptions {
  samples: number;
  seed: number;
  /** Standard deviation of the Gaussian noise added to inputs (xor, spirals) or targets (regression). */
  noise: number;
  /** Number of input features (regression only). */
  features: number;
}

/** Points in [-1, 1]², independent draws (no order to shuffle); class 1 when the coordinates' signs differ. */
function xor({ samples, seed, noise }: SyntheticOptions): Table {
  const random = prng(seed);
  const normal = gaussian(random);
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < samples; i++) {
    const a = random() * 2 - 1;
    const b = random() * 2 - 1;
    y.push(a > 0 !== b > 0 ? 1 : 0);
    x.push([a + noise * normal(), b + noise * normal()]);
  }
  return { x, y, features: ["x1", "x2"], classes: ["same_sign", "opposite_sign"] };
}

/**
 * Rows in an order drawn from `random` (Fisher–Yates), for generators whose points come out ordered: Keras's
 * validation_split holds out the last rows, which must be a sample of the whole set, as iris's are.
 */
export function shuffleRows(table: Table, random: () => number): Table {
  const order = table.x.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const y = table.y as unknown[];
  return { ...table, x: order.map((i) => table.x[i]), y: order.map((i) => y[i]) as Table["y"] };
}

/**
 * Two interleaved spirals (the TensorFlow Playground classic). The points are generated from the centre out,
 * alternating classes, then shuffled with the same seeded generator: the last rows (validation_split's) are
 * spread over both spirals from centre to rim, not the outer arms alone.
 */
function spirals({ samples, seed, noise }: SyntheticOptions): Table {
  const random = prng(seed);
  const normal = gaussian(random);
  const x: number[][] = [];
  const y: number[] = [];
  const perClass = Math.ceil(samples / 2);
  for (let i = 0; i < samples; i++) {
    const label = i % 2;
    const r = (Math.floor(i / 2) / perClass) * 5;
    const t = 1.75 * (Math.floor(i / 2) / perClass) * 2 * Math.PI + label * Math.PI;
    x.push([r * Math.sin(t) + noise * normal(), r * Math.cos(t) + noise * normal()]);
    y.push(label);
  }
  return shuffleRows({ x, y, features: ["x1", "x2"], classes: ["spiral_a", "spiral_b"] }, random);
}

/** y = w·x + b + noise, with x ~ N(0, 1) drawn row by row (no order to shuffle) and w, b from the same seed. */
function regression({ samples, seed, noise, features }: SyntheticOptions): Table {
  const normal = gaussian(prng(seed));
  const weights = Array.from({ length: features }, () => normal());
  const bias = normal();
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < samples; i++) {
    const row = Array.from({ length: features }, () => normal());
    x.push(row);
    y.push(row.reduce((sum, value, j) => sum + value * weights[j], bias) + noise * normal());
  }
  return { x, y, features: Array.from({ length: features }, (_, j) => `x${j + 1}`) };
}

export const SYNTHETIC = { xor, spirals, regression } as const;
export type SyntheticName = keyof typeof SYNTHETIC;
