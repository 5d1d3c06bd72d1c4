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

/** The most details one error response lists; the rest are counted in one last detail. */
export const MAX_DETAILS = 20;

/**
 * At most MAX_DETAILS issues, then one saying how many more there are (at the longest path prefix the
 * rest share): a thousand bad values are one mistake, not a thousand answers.
 */
export function capIssues(issues: readonly Issue[], max = MAX_DETAILS): Issue[] {
  if (issues.length <= max) return [...issues];
  const rest = issues.slice(max - 1);
  const common = rest
    .map((issue) => issue.path)
    .reduce((a, b) => {
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      return a.slice(0, i);
    });
  const path = common.slice(0, common.lastIndexOf("/") + 1).replace(/\/$/, "");
  return [
    ...issues.slice(0, max - 1),
    { path, message: `and ${rest.length} more problems like those above` },
  ];
}

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
