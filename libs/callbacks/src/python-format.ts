/**
 * Python's str.format for the ModelCheckpoint filepath template (`ckpt-{epoch:02d}-{val_loss:.2f}`): named
 * fields with the format-spec mini-language, `{{`/`}}` escapes. Integers and floats are told apart because
 * Python formats them differently (`{epoch}` → "3", `{loss}` → "3.0").
 */
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

function parseSpec(text: string, field: string): Spec {
  const m = SPEC.exec(text);
  if (!m) throw new Error(`invalid format spec '${text}' for field '${field}'`);
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
