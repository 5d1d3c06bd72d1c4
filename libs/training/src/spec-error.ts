import type { Issue } from "@plateau/contract";

/**
 * A job spec the service cannot run as written. Carries every problem found, each with its path, so the
 * API can answer 400 with all of them and a failed job can record what to fix.
 */
export class SpecError extends Error {
  readonly issues: Issue[];

  constructor(issues: Issue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join("; "));
    this.name = "SpecError";
    this.issues = issues;
  }
}

/** Throws a SpecError when any issue was collected. */
export function throwIfIssues(issues: Issue[]): void {
  if (issues.length > 0) throw new SpecError(issues);
}
