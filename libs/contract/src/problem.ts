import Type, { type Static, type TSchema } from "typebox";

/**
 * One problem with a request or a spec, located by a JSON pointer into it (`/callbacks/0/factor`); for
 * query-string, path-parameter and header problems the pointer starts with the part (`/querystring/limit`).
 */
export const IssueSchema = Type.Object({ path: Type.String(), message: Type.String() });
export type Issue = Static<typeof IssueSchema>;

/** The one error shape every route answers with. */
export const ErrorResponseSchema = Type.Object(
  {
    error: Type.String({ description: "Short machine-readable code, e.g. invalid_request, not_found." }),
    message: Type.String({ description: "What happened and what to do about it." }),
    details: Type.Array(IssueSchema),
  },
  { $id: "ErrorResponse" },
);
export type ErrorResponse = Static<typeof ErrorResponseSchema>;

/** One JSON-pointer reference token (RFC 6901): "~" and "/" inside a property name are escaped. */
export function pointerToken(name: string): string {
  return name.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Prefixes every issue's path, e.g. issues of one callback's options placed under `/callbacks/2`. */
export function issuesUnder(prefix: string, issues: readonly Issue[]): Issue[] {
  return issues.map((issue) => ({ path: `${prefix}${issue.path}`, message: issue.message }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID in either case, as the `uuid` format of the route schemas accepts it. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export const Uuid = Type.String({ format: "uuid", description: "A UUID, as returned when it was created." });
export const DateTime = Type.String({ format: "date-time" });

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}
