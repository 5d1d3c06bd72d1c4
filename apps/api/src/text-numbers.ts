import { pointerToken } from "@plateau/contract";
import type { ErrorObject } from "ajv";

type Validate = ((data: unknown, context?: object) => boolean | Promise<unknown>) & {
  errors?: ErrorObject[] | null;
  schemaEnv?: unknown;
};

/**
 * Query strings, path parameters and headers are text converted to the schema's types by ajv, which
 * turns "Infinity" and "1e309" into Infinity, calls it an integer and skips minimum/maximum for it
 * (ajv 8 checks bounds only on finite numbers). Wrapped validators refuse any non-finite number after
 * conversion, with the field's path, so `?limit=Infinity` is a 400 and never reaches a query.
 */
export function finiteNumbersOnly(validate: Validate): Validate {
  const wrapped: Validate = (data, context) => {
    const valid = validate(data, context);
    if (typeof valid !== "boolean") return valid;
    const errors = [...((!valid && validate.errors) || []), ...nonFinite(data)];
    wrapped.errors = errors.length > 0 ? errors : null;
    return errors.length === 0;
  };
  // Fastify passes the parent (so that ajv may replace a coerced root) only to ajv's own functions.
  wrapped.schemaEnv = validate.schemaEnv;
  return wrapped;
}

/** Non-finite numbers in a converted request part: an object of strings, numbers and arrays of them. */
function nonFinite(data: unknown): ErrorObject[] {
  if (data === null || typeof data !== "object") return [];
  const errors: ErrorObject[] = [];
  for (const [key, value] of Object.entries(data)) {
    const values = Array.isArray(value) ? value : [value];
    values.forEach((item, i) => {
      if (typeof item === "number" && !Number.isFinite(item)) {
        const path = `/${pointerToken(key)}${Array.isArray(value) ? `/${i}` : ""}`;
        errors.push({
          instancePath: path,
          schemaPath: "#/finite",
          keyword: "type",
          params: {},
          message: "must be a finite number",
        });
      }
    });
  }
  return errors;
}
