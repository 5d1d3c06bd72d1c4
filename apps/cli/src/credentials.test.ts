import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isLocalApi, refusalHelp, resolveKey } from "./credentials";

const dir = mkdtempSync(join(tmpdir(), "plateau-credentials-"));
mkdirSync(join(dir, ".stack"));
writeFileSync(join(dir, ".stack", "api-key"), "plat_fromthefile000000000000000000000\n");
writeFileSync(join(dir, ".stack", "admin-key"), "admin-from-the-file-0000\n");
const empty = mkdtempSync(join(tmpdir(), "plateau-credentials-"));

afterAll(() => {
  rmSync(dir, { recursive: true });
  rmSync(empty, { recursive: true });
});

const local = "http://127.0.0.1:8080";
const env = { PLATEAU_API_KEY: "plat_fromtheenv", ADMIN_API_KEY: "admin-from-the-env-00000" };

describe("resolveKey", () => {
  it("takes the flag, then the environment variable, then the .stack file", () => {
    const tenant = { kind: "tenant" as const, cwd: dir, api: local };
    expect(resolveKey({ ...tenant, flag: "plat_flag", env })).toEqual({
      kind: "tenant",
      key: "plat_flag",
      source: "--api-key",
    });
    expect(resolveKey({ ...tenant, flag: undefined, env })).toMatchObject({
      key: "plat_fromtheenv",
      source: "PLATEAU_API_KEY",
    });
    expect(resolveKey({ ...tenant, flag: undefined, env: { PLATEAU_API_KEY: "" } })).toMatchObject({
      key: "plat_fromthefile000000000000000000000",
      source: ".stack/api-key",
    });
    const admin = { kind: "admin" as const, cwd: dir, api: local };
    expect(resolveKey({ ...admin, flag: "admin-flag", env })).toMatchObject({ source: "--admin-key" });
    expect(resolveKey({ ...admin, flag: undefined, env })).toMatchObject({ source: "ADMIN_API_KEY" });
    expect(resolveKey({ ...admin, flag: undefined, env: {} })).toMatchObject({
      key: "admin-from-the-file-0000",
      source: ".stack/admin-key",
    });
  });

  it("reads the .stack files only for an API on this machine", () => {
    for (const api of ["http://localhost:8080", "http://127.0.0.1:3000", "http://[::1]:8080"]) {
      expect(isLocalApi(api), api).toBe(true);
    }
    for (const api of [
      "https://plateau.example.com",
      "http://10.0.0.5:8080",
      "http://127.0.0.1.nip.io",
      "nonsense",
    ]) {
      expect(isLocalApi(api), api).toBe(false);
      expect(resolveKey({ kind: "tenant", flag: undefined, env: {}, cwd: dir, api })).toEqual({
        kind: "tenant",
        key: undefined,
        source: undefined,
      });
    }
    expect(
      resolveKey({ kind: "tenant", flag: undefined, env: {}, cwd: empty, api: local }).key,
    ).toBeUndefined();
  });
});

describe("refusalHelp", () => {
  it("names the refused key's source by prefix only, and never shows an admin key", () => {
    const tenant = refusalHelp({ kind: "tenant", key: "plat_abcdefgh12345678", source: "PLATEAU_API_KEY" });
    expect(tenant[0]).toBe(
      "The API key from PLATEAU_API_KEY (plat_abcdefgh…) was refused: this API does not know it, or it was revoked.",
    );
    expect(tenant.join("\n")).not.toContain("12345678");
    const admin = refusalHelp({ kind: "admin", key: "admin-secret-0000000000", source: ".stack/admin-key" });
    expect(admin.join("\n")).not.toContain("admin-secret");
    expect(admin[0]).toContain("The admin key from .stack/admin-key was refused");
  });
});
