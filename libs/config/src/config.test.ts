import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./index";

describe("loadConfig", () => {
  it("applies documented defaults and converts strings to typed values", () => {
    const config = loadConfig({ API_PORT: "9000", S3_FORCE_PATH_STYLE: "false" });
    expect(config.API_PORT).toBe(9000);
    expect(config.S3_FORCE_PATH_STYLE).toBe(false);
    expect(config.WORKER_CONCURRENCY).toBe(1);
    expect(config.REDIS_URL).toBe("redis://127.0.0.1:6379");
  });

  it("names every invalid variable at once", () => {
    let error: unknown;
    try {
      loadConfig({ API_PORT: "eighty", WORKER_CONCURRENCY: "0", TFJS_BACKEND: "cuda" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = (error as ConfigError).problems.map((p) => p.key).sort();
    expect(keys).toEqual(["API_PORT", "TFJS_BACKEND", "WORKER_CONCURRENCY"]);
    expect((error as ConfigError).message).toContain("eighty");
  });
});
