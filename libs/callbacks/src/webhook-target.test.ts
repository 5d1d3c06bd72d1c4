import { ConfigError, loadConfig } from "@plateau/config";
import { describe, expect, it } from "vitest";
import { addressRefusal, webhookPolicy, webhookTargetIssues, webhookUrlIssues } from "./webhook-target";

const policy = webhookPolicy({
  WEBHOOK_ALLOWED_HOSTS: "hooks.example.com, *.example.org, 10.1.2.3, *",
  WEBHOOK_ALLOWED_NETWORKS: "10.1.0.0/16",
  WEBHOOK_ALLOW_HTTP: false,
});

describe("webhook targets", () => {
  it("refuses loopback, private, link-local and other non-public addresses unless a network opens them", () => {
    for (const [address, range] of [
      ["127.0.0.1", "loopback"],
      ["::1", "loopback"],
      ["::ffff:127.0.0.1", "loopback"],
      ["10.2.0.1", "private"],
      ["192.168.1.1", "private"],
      ["169.254.169.254", "linkLocal"],
      ["fe80::1", "linkLocal"],
      ["fd00::1", "uniqueLocal"],
      ["0.0.0.0", "unspecified"],
      ["100.64.0.1", "carrierGradeNat"],
    ]) {
      expect(addressRefusal(address, policy), address).toContain(`a ${range} address`);
    }
    expect(addressRefusal("10.1.200.7", policy)).toBeNull();
    expect(addressRefusal("93.184.216.34", policy)).toBeNull();
    expect(addressRefusal("2606:2800:220:1::1", policy)).toBeNull();
  });

  it("matches hosts exactly or as subdomains of a *. pattern; without * only the listed ones", () => {
    const listed = webhookPolicy({ WEBHOOK_ALLOWED_HOSTS: "hooks.example.com,*.example.org" });
    const allowed = (url: string) => webhookTargetIssues(url, listed).length === 0;
    expect(allowed("https://HOOKS.example.com./x")).toBe(true);
    expect(allowed("https://a.b.example.org/x")).toBe(true);
    expect(allowed("https://example.org/x")).toBe(false);
    expect(allowed("https://badexample.org/x")).toBe(false);
    expect(allowed("https://other.example.com/x")).toBe(false);
    expect(webhookTargetIssues("https://other.example.com/x", listed)[0].message).toBe(
      "host other.example.com is not in this service's WEBHOOK_ALLOWED_HOSTS: it allows hooks.example.com, *.example.org",
    );
    expect(webhookTargetIssues("https://a.example.com/", webhookPolicy({}))[0].message).toContain(
      "it allows none",
    );
  });

  it("refuses http unless allowed, and IP literals in closed ranges before any request", () => {
    expect(webhookTargetIssues("http://hooks.example.com/", policy)[0].message).toContain(
      "WEBHOOK_ALLOW_HTTP",
    );
    const http = webhookPolicy({ WEBHOOK_ALLOWED_HOSTS: "*", WEBHOOK_ALLOW_HTTP: true });
    expect(webhookTargetIssues("http://hooks.example.com/", http)).toEqual([]);
    expect(webhookTargetIssues("https://[::1]:8443/", http)[0].message).toContain("loopback");
    expect(webhookTargetIssues("https://169.254.169.254/latest", http)[0].message).toContain("linkLocal");
    expect(webhookTargetIssues("https://10.1.2.3/", policy)).toEqual([]);
  });

  it("refuses URLs no service could call", () => {
    expect(webhookUrlIssues("hooks.example.com/x")[0].message).toContain("not an absolute URL");
    expect(webhookUrlIssues("ftp://hooks.example.com/x")[0].message).toContain("not ftp:");
    expect(webhookUrlIssues("https://user:pw@hooks.example.com/")[0].message).toContain("credentials");
    expect(webhookUrlIssues("https://hooks.example.com/x?y=1")).toEqual([]);
  });

  it("stops a process at start on settings that are not hosts or CIDR ranges", () => {
    for (const value of ["10.0.0.0/40", "300.0.0.0/8", "127.0.0.1", "loopback"]) {
      expect(() => loadConfig({ WEBHOOK_ALLOWED_NETWORKS: value }), value).toThrow(ConfigError);
    }
    expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: "https://hooks.example.com" })).toThrow(ConfigError);
    const config = loadConfig({
      WEBHOOK_ALLOWED_HOSTS: "hooks.example.com, *.example.org",
      WEBHOOK_ALLOWED_NETWORKS: "127.0.0.0/8, ::1/128",
    });
    expect(webhookPolicy(config).hosts).toEqual(["hooks.example.com", "*.example.org"]);
  });

  it("names a setting that does not parse", () => {
    expect(() => webhookPolicy({ WEBHOOK_ALLOWED_NETWORKS: "10.0.0.0/40" })).toThrow(
      'WEBHOOK_ALLOWED_NETWORKS: "10.0.0.0/40" is not a CIDR range',
    );
  });
});
