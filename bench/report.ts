/** One line of the closing table: a Plateau figure next to the baseline measured in the same run. */
export interface Row {
  benchmark: string;
  measure: string;
  plateau: string;
  baseline: string;
  /** Plateau over baseline: for times above 1 means slower, for rates (`atLeast`) below 1 does. */
  ratio: number;
  /** The goal for `ratio`, when the issue sets one: at most this, or with `atLeast` at least this. */
  target?: number;
  atLeast?: boolean;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: p99 of 200 samples is the 198th smallest, a value that was really observed.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}

export function progress(message: string): void {
  console.log(`  · ${message}`);
}

export function printTable(rows: Row[]): void {
  const header = ["benchmark", "measure", "Plateau", "baseline", "ratio", "target"];
  const cells = rows.map((row) => [
    row.benchmark,
    row.measure,
    row.plateau,
    row.baseline,
    `${row.ratio.toFixed(2)}×`,
    row.target === undefined ? "" : targetCell(row.ratio, row.target, row.atLeast === true),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i].length)));
  const format = (line: string[]) =>
    line
      .map((cell, i) => cell.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  console.log(format(header));
  console.log(widths.map((width) => "─".repeat(width)).join("  "));
  for (const line of cells) console.log(format(line));
}

function targetCell(ratio: number, target: number, atLeast: boolean): string {
  const met = atLeast ? ratio >= target : ratio <= target;
  return `${atLeast ? "≥" : "≤"}${target.toFixed(2)}× ${met ? "met" : "missed"}`;
}
