import { describe, expect, it } from "vitest";
import { capIssues, MAX_DETAILS } from "./problem";

describe("capIssues", () => {
  it("keeps a short list, and cuts a long one to MAX_DETAILS with a count of the rest at their common path", () => {
    const few = [{ path: "/a", message: "m" }];
    expect(capIssues(few)).toEqual(few);
    const many = Array.from({ length: 4000 }, (_, i) => ({
      path: `/data/x/${i}`,
      message: "must be a number",
    }));
    const capped = capIssues(many);
    expect(capped).toHaveLength(MAX_DETAILS);
    expect(capped.slice(0, MAX_DETAILS - 1)).toEqual(many.slice(0, MAX_DETAILS - 1));
    expect(capped.at(-1)).toEqual({ path: "/data/x", message: "and 3981 more problems like those above" });
  });
});
