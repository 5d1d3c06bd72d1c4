/** One problem in a job spec, located by a JSON pointer into the submitted body. */
export interface SpecIssue {
  path: string;
  message: string;
}

/**
 * A job spec the service cannot run as written. Carries every problem found, each with its path, so the
 * API can answer 400 with all of them and a failed job can record what to fix.
 */
export class SpecError extends Error {
  readonly issues: SpecIssue[];

  constructor(issues: SpecIssue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join("; "));
    this.name = "SpecError";
    this.issues = issues;
  }
}

/** Throws a SpecError when any issue was collected. */
export function throwIfIssues(issues: SpecIssue[]): void {
  if (issues.length > 0) throw new SpecError(issues);
}

/** JSON pointer segment escaping (RFC 6901), for keys that come from user input. */
export function pointer(...segments: (string | number)[]): string {
  return segments.map((s) => `/${String(s).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}
