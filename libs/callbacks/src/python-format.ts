/**
 * Python's str.format for the ModelCheckpoint filepath template (`ckpt-{epoch:02d}-{val_loss:.2f}`): named
 * fields with the format-spec mini-language, `{{`/`}}` escapes. Integers and floats are told apart because
 * Python formats them differently (`{epoch}` → "3", `{loss}` → "3.0").
 */
import { CHECKPOINT_NAME_MAX_LENGTH } from "@plateau/contract";

type Part = string | { field: string; spec: Spec };

interface Spec {
  fill: string;
  align: string | undefined;
  sign: string;
  alternate: boolean;
  width: number;
  grouping: string;
  precision: number | undefined;
  type: string;
}

const SPEC = /^(?:(.)?([<>=^]))?([+\- ])?(z)?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let literal = "";
  let i = 0;
  while (i < template.length) {
    const ch = template[i];
    if ((ch === "{" || ch === "}") && template[i + 1] === ch) {
      literal += ch;
      i += 2;
    } else if (ch === "}") {
      throw new Error(`single '}' at position ${i} (write '}}' for a literal brace)`);
    } else if (ch === "{") {
      const end = template.indexOf("}", i);
      if (end < 0) throw new Error(`'{' at position ${i} is never closed`);
      const body = template.slice(i + 1, end);
      const colon = body.indexOf(":");
      const field = colon < 0 ? body : body.slice(0, colon);
      if (!FIELD.test(field))
        throw new Error(`'{${body}}' must name a field, e.g. {epoch} or {val_loss:.2f}`);
      parts.push(literal, { field, spec: parseSpec(colon < 0 ? "" : body.slice(colon + 1), field) });
      literal = "";
      i = end + 1;
    } else {
      literal += ch;
      i += 1;
    }
  }
  parts.push(literal);
  return parts.filter((part) => part !== "");
}

/**
 * A width or precision above this could never fit a checkpoint name; refusing it while parsing keeps every
 * rendering small (`{epoch:0536870000d}` would otherwise build a 536-million-character string).
 */
export const MAX_FORMAT_WIDTH = CHECKPOINT_NAME_MAX_LENGTH;

function parseSpec(text: string, field: string): Spec {
  const m = SPEC.exec(text);
  if (!m) throw new Error(`invalid format spec '${text}' for field '${field}'`);
  for (const [what, digits] of [
    ["width", m[7]],
    ["precision", m[9]],
  ] as const) {
    if (digits !== undefined && Number(digits) > MAX_FORMAT_WIDTH) {
      throw new Error(
        `${what} ${digits.replace(/^0+(?=\d)/, "")} in '{${field}:${text}}' is over ${MAX_FORMAT_WIDTH}: a checkpoint name has at most ${CHECKPOINT_NAME_MAX_LENGTH} characters`,
      );
    }
  }
  const zeroPad = m[6] !== undefined && m[2] === undefined;
  return {
    fill: m[1] ?? (zeroPad ? "0" : " "),
    align: m[2] ?? (zeroPad ? "=" : undefined),
    sign: m[3] ?? "-",
    alternate: m[5] !== undefined,
    width: m[7] ? Number(m[7]) : 0,
    grouping: m[8] ?? "",
    precision: m[9] !== undefined ? Number(m[9]) : undefined,
    type: m[10] ?? "",
  };
}

/** How many digits `templateMaxLength` assumes: ints are epoch and batch numbers; floats are logs. */
export const TEMPLATE_ASSUMPTIONS = { intDigits: 10, fixedPointDigits: 16 } as const;

/**
 * The longest string `renderTemplate` can produce for this template, each field at its widest: `ints` are
 * the integer fields (ModelCheckpoint's epoch and batch, at most 10 digits), every other field is a float
 * (a log value, possibly negative). Formats whose length does not depend on the magnitude (repr, e, g) are
 * exact bounds; a fixed-point float (`f`, `%`) is counted with at most 16 integer digits (|value| < 1e16).
 * Throws for a format the renderer would refuse (`{loss:d}`, `{epoch:x}`), naming the field.
 */
export function templateMaxLength(template: string, ints: readonly string[]): number {
  return parseTemplate(template).reduce(
    (total, part) =>
      total +
      (typeof part === "string"
        ? part.length
        : fieldMaxLength(part.spec, ints.includes(part.field), part.field)),
    0,
  );
}

function fieldMaxLength(spec: Spec, isInt: boolean, field: string): number {
  const type = spec.type || (isInt ? "d" : "");
  const digits = isInt ? TEMPLATE_ASSUMPTIONS.intDigits : TEMPLATE_ASSUMPTIONS.fixedPointDigits;
  const grouped = (n: number) => n + (spec.grouping ? Math.floor((n - 1) / 3) : 0);
  const fraction = (precision: number) => (precision > 0 || spec.alternate ? 1 + precision : 0);
  // "e+308": a float's exponent has up to three digits, an int's (< 1e10) two.
  const exponent = isInt ? 4 : 5;
  let body: number;
  if (type === "d" || type === "n") {
    if (!isInt) {
      throw new Error(
        `format code '${type}' needs an integer, but '${field}' is a float (only epoch and batch are integers); use e.g. {${field}:.4f}`,
      );
    }
    body = grouped(digits);
  } else if (type === "f" || type === "F") {
    body = grouped(digits) + fraction(spec.precision ?? 6);
  } else if (type === "%") {
    body = grouped(digits + 2) + fraction(spec.precision ?? 6) + 1;
  } else if (type === "e" || type === "E") {
    body = 1 + fraction(spec.precision ?? 6) + exponent;
  } else if (type === "g" || type === "G" || (type === "" && spec.precision !== undefined)) {
    // Significant digits, a point, then either up to four leading zeros ("0.0001…") or an exponent.
    const p = Math.max(spec.precision ?? 6, 1);
    body = p + 1 + Math.max(5, exponent);
  } else if (type === "") {
    // Python's float repr: at most 17 significant digits, a point and "e-308".
    body = isInt ? grouped(digits) : 23;
  } else {
    throw new Error(`format code '${type}' is not supported for field '${field}'; use d, e, f, g, n or %`);
  }
  // Epoch and batch numbers are never negative; a float may be.
  const sign = isInt && spec.sign === "-" ? 0 : 1;
  return Math.max(spec.width, sign + body);
}

export interface TemplateValues {
  ints: Record<string, number>;
  floats: Record<string, number>;
}

/** Renders a template; a field with no value is an error naming the available ones, as in Keras. */
export function renderTemplate(template: string, values: TemplateValues): string {
  return parseTemplate(template)
    .map((part) => {
      if (typeof part === "string") return part;
      const isInt = part.field in values.ints;
      const value = isInt ? values.ints[part.field] : values.floats[part.field];
      if (value === undefined) {
        const known = [...Object.keys(values.ints), ...Object.keys(values.floats)].join(", ");
        throw new Error(`filepath field '{${part.field}}' has no value; available: ${known}`);
      }
      return formatNumber(value, isInt, part.spec, part.field);
    })
    .join("");
}

function formatNumber(value: number, isInt: boolean, spec: Spec, field: string): string {
  const type = spec.type || (isInt ? "d" : "");
  let body: string;
  if (!Number.isFinite(value)) {
    body = Number.isNaN(value) ? "nan" : "inf";
    if (type === "E" || type === "F" || type === "G") body = body.toUpperCase();
  } else if (type === "d" || type === "n") {
    if (!isInt) throw new Error(`format code '${type}' needs an integer, but '${field}' is a float`);
    body = String(Math.abs(value));
  } else if (type === "f" || type === "F") {
    body = Math.abs(value).toFixed(spec.precision ?? 6);
  } else if (type === "e" || type === "E") {
    body = exponential(Math.abs(value), spec.precision ?? 6);
    if (type === "E") body = body.toUpperCase();
  } else if (type === "g" || type === "G" || (type === "" && spec.precision !== undefined)) {
    body = general(Math.abs(value), spec.precision ?? 6, spec.alternate);
    if (type === "G") body = body.toUpperCase();
  } else if (type === "%") {
    body = `${(Math.abs(value) * 100).toFixed(spec.precision ?? 6)}%`;
  } else if (type === "") {
    body = isInt ? String(Math.abs(value)) : pythonRepr(Math.abs(value));
  } else {
    throw new Error(`format code '${type}' is not supported for field '${field}'`);
  }
  if (spec.grouping) body = group(body, spec.grouping);
  const negative = value < 0 || Object.is(value, -0);
  const sign = negative ? "-" : spec.sign === "+" ? "+" : spec.sign === " " ? " " : "";
  return pad(sign, body, spec);
}

function exponential(value: number, precision: number): string {
  const [mantissa, exponent] = value.toExponential(precision).split("e");
  const digits = exponent.replace(/^[+-]/, "").padStart(2, "0");
  return `${mantissa}e${exponent.startsWith("-") ? "-" : "+"}${digits}`;
}

function general(value: number, precision: number, alternate: boolean): string {
  const p = precision === 0 ? 1 : precision;
  if (value === 0) return alternate ? `0.${"0".repeat(p - 1)}` : "0";
  const exp = Number(value.toExponential(p - 1).split("e")[1]);
  const text = -4 <= exp && exp < p ? value.toFixed(p - 1 - exp) : exponential(value, p - 1);
  if (alternate) return text;
  const [mantissa, exponent] = text.split("e");
  const stripped = mantissa.includes(".") ? mantissa.replace(/\.?0+$/, "") : mantissa;
  return exponent === undefined ? stripped : `${stripped}e${exponent}`;
}

/** Python's repr of a float: shortest round-trip digits like JS, but `1.0`, `1e-05`, `1e+16`. */
export function pythonRepr(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e16 || abs < 1e-4)) {
    const [mantissa, exponent] = value.toExponential().split("e");
    const digits = exponent.replace(/^[+-]/, "").padStart(2, "0");
    return `${mantissa}e${exponent.startsWith("-") ? "-" : "+"}${digits}`;
  }
  const text = String(value);
  return text.includes(".") ? text : `${text}.0`;
}

function group(body: string, separator: string): string {
  const [, intPart, rest] = /^(\d+)(.*)$/.exec(body) ?? [body, body, ""];
  return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, separator) + rest;
}

function pad(sign: string, body: string, spec: Spec): string {
  const missing = spec.width - sign.length - body.length;
  if (missing <= 0) return sign + body;
  const fill = spec.fill.repeat(missing);
  switch (spec.align ?? ">") {
    case "<":
      return sign + body + fill;
    case "^": {
      const left = spec.fill.repeat(Math.floor(missing / 2));
      return left + sign + body + spec.fill.repeat(missing - left.length);
    }
    case "=":
      return sign + fill + body;
    default:
      return fill + sign + body;
  }
}
