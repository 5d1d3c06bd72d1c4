/**
 * A strict reader of Prometheus's text exposition format (version 0.0.4), for tests of /metrics bodies.
 * npm's parse-prometheus-text-format merges a labeled histogram's series into one and drops their
 * _count and _sum, and prom-client only writes the format, so the tests read it with this.
 * It refuses what Prometheus would: a malformed line, a sample of no declared family or with a suffix
 * its type does not have, a second HELP or TYPE, buckets that are not cumulative or lack +Inf.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  help: string;
  type: MetricType;
  samples: Sample[];
}

export type Exposition = Map<string, Family>;

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = '([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL},?)*)\\})? (\\S+)(?: -?\\d+)?$`);
const SUFFIXES: Record<MetricType, string[]> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

const unescapeText = (text: string) =>
  text.replace(/\\(.)/g, (_, char: string) => (char === "n" ? "\n" : char));

// Prometheus reads values with Go's strconv.ParseFloat, which takes NaN and Inf in any case (prom-client
// writes "Nan").
function parseValue(text: string, line: string): number {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) {
    if (special[2].toLowerCase() === "nan") return Number.NaN;
    return special[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  const value = Number(text);
  if (text === "" || Number.isNaN(value)) throw new Error(`not a sample value: ${line}`);
  return value;
}

/** Every family of the body, by name; throws naming the first line Prometheus would refuse. */
export function parseExposition(text: string): Exposition {
  const families: Exposition = new Map();
  const familyOf = (name: string) => {
    let family = families.get(name);
    if (!family) {
      family = { help: "", type: "untyped", samples: [] };
      families.set(name, family);
    }
    return family;
  };
  const declared = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      const family = familyOf(name);
      const key = `${kind} ${name}`;
      if (declared.has(key) || family.samples.length > 0) throw new Error(`misplaced ${kind}: ${line}`);
      declared.add(key);
      if (kind === "HELP") family.help = unescapeText(rest);
      else if (rest in SUFFIXES) family.type = rest as MetricType;
      else throw new Error(`unknown type: ${line}`);
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`malformed sample: ${line}`);
    const [, name, labelText = "", , , value] = match;
    const labels: Record<string, string> = {};
    for (const [, label, raw] of labelText.matchAll(new RegExp(LABEL, "g"))) {
      if (label in labels) throw new Error(`label ${label} twice: ${line}`);
      labels[label] = unescapeText(raw);
    }
    const owner = [...families.entries()].find(([family, { type }]) =>
      SUFFIXES[type].some((suffix) => `${family}${suffix}` === name),
    );
    if (!owner) throw new Error(`sample of no declared family: ${line}`);
    owner[1].samples.push({ name, labels, value: parseValue(value, line) });
  }
  for (const [name, family] of families) if (family.type === "histogram") checkHistogram(name, family);
  return families;
}

function checkHistogram(name: string, family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name === `${name}_bucket`)
      entry.buckets.push([parseValue(le ?? "", `le of ${name}`), sample.value]);
    if (sample.name === `${name}_count`) entry.count = sample.value;
  }
  for (const [key, { buckets, count }] of series) {
    const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
    const last = sorted.at(-1);
    if (last?.[0] !== Number.POSITIVE_INFINITY || last[1] !== count) {
      throw new Error(`${name}${key}: the +Inf bucket must exist and equal _count`);
    }
    if (sorted.some(([, value], i) => i > 0 && value < sorted[i - 1][1])) {
      throw new Error(`${name}${key}: buckets are not cumulative`);
    }
  }
}

/** The family's type, or undefined when the exposition lacks it. */
export const typeOf = (exposition: Exposition, name: string) => exposition.get(name)?.type;

/** The one sample named `sample` of family `family` whose labels include `labels`, if any. */
function find(exposition: Exposition, family: string, sample: string, labels: Record<string, string>) {
  const found = exposition.get(family);
  if (!found) throw new Error(`no metric ${family}`);
  const matches = found.samples.filter(
    (s) => s.name === sample && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  if (matches.length > 1)
    throw new Error(`${sample} ${JSON.stringify(labels)} names ${matches.length} series`);
  return matches[0];
}

/** A counter's or gauge's value for the labels given (0 when no series has them yet). */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  return find(exposition, name, name, labels)?.value ?? 0;
}

/** A histogram's observation count for the labels given (0 when no series has them yet). */
export function countOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return find(exposition, name, `${name}_count`, labels)?.value ?? 0;
}

/** Scrapes until `predicate` holds, every 100 ms for at most 15 s (an API caches job counts for 5 s). */
export async function scrapeUntil(
  scrape: () => Promise<Exposition>,
  predicate: (metrics: Exposition) => boolean,
): Promise<Exposition> {
  for (let i = 0; i < 150; i++) {
    const metrics = await scrape();
    if (predicate(metrics)) return metrics;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the metrics never got there");
}
