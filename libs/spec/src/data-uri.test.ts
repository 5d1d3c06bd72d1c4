import { describe, expect, it } from "vitest";
import { dataUriKey, dataUriPrefixes } from "./data-uri";

const rules = { bucket: "plateau", prefixes: ["uploads/", "shared/team-a/"] };

describe("dataUriKey", () => {
  it("gives the key of an object under an opened prefix of the service's bucket", () => {
    expect(dataUriKey("s3://plateau/uploads/iris.csv", rules)).toEqual({ key: "uploads/iris.csv" });
    expect(dataUriKey("s3://plateau/shared/team-a/x/y.jsonl", rules)).toEqual({
      key: "shared/team-a/x/y.jsonl",
    });
  });

  it.each([
    ["s3://other/uploads/iris.csv", /names bucket "other"/],
    ["s3://plateau/../other/creds.csv", /no "\.\."/],
    ["s3://plateau/uploads/../jobs/j/model.json", /no "\.\."/],
    ["s3://plateau/uploads/./iris.csv", /no "\.\."/],
    ["s3://plateau/uploads/%2E%2E/jobs/j/model.json", /no "\.\."/],
    ["s3://plateau/uploads//iris.csv", /empty/],
    ["s3://plateau/uploads/.hidden", /hidden/],
    ["s3://plateau/uploads\\..\\jobs", /no "\.\."/],
    ["s3://plateau/", /key must be/],
    ["s3://plateau", /key must be/],
    [`s3://plateau/uploads/${"a".repeat(1100)}`, /key must be 1-1024/],
    ["http://plateau/uploads/iris.csv", /must be s3:\/\//],
    ["s3://plateau/jobs/j/checkpoints/best/model.json", /not readable by jobs/],
    ["s3://plateau/datasets/d/train.csv", /not readable by jobs/],
    ["s3://plateau/shared/team-b/x.csv", /under s3:\/\/plateau\/uploads\/, s3:\/\/plateau\/shared\/team-a\//],
  ])("refuses %s", (uri, message) => {
    const result = dataUriKey(uri, rules);
    expect(result).toEqual({ message: expect.stringMatching(message) });
  });

  it("never opens the service's own prefixes, even when configured", () => {
    const open = { bucket: "plateau", prefixes: ["jobs/", "datasets/"] };
    expect(dataUriKey("s3://plateau/jobs/j/model.json", open)).toEqual({
      message: expect.stringMatching(/^is not readable by jobs; upload the file/),
    });
  });
});

describe("dataUriPrefixes", () => {
  it("reads a comma-separated setting, blanks ignored, {tenant} as the tenant's id", () => {
    expect(dataUriPrefixes(" uploads/ , shared/a/,", "t1")).toEqual(["uploads/", "shared/a/"]);
    expect(dataUriPrefixes("uploads/{tenant}/,shared/", "t1")).toEqual(["uploads/t1/", "shared/"]);
    expect(dataUriPrefixes("", "t1")).toEqual([]);
  });

  it("keeps each tenant to its own folder under a {tenant} prefix", () => {
    const own = { bucket: "plateau", prefixes: dataUriPrefixes("uploads/{tenant}/", "tenant-b") };
    expect(dataUriKey("s3://plateau/uploads/tenant-b/x.csv", own)).toEqual({ key: "uploads/tenant-b/x.csv" });
    expect(dataUriKey("s3://plateau/uploads/tenant-a/x.csv", own)).toEqual({
      message: expect.stringMatching(
        /^is not readable by jobs; data.uri may name objects under s3:\/\/plateau\/uploads\/tenant-b\//,
      ),
    });
  });
});
