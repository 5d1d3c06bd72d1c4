import type { Issue } from "@plateau/contract";
import ipaddr from "ipaddr.js";

/**
 * Where a Webhook may send requests: the service's allowlist of hosts, the non-public networks it opens,
 * and whether plain http is allowed. No I/O and no node: modules, so submission validation uses it as is;
 * the worker applies it again to every address a name resolves to (webhook-delivery.ts).
 */
export interface WebhookPolicy {
  /** Lower-case host names, `*.suffix` patterns, normalized IP addresses, or `*`. */
  hosts: string[];
  networks: [ipaddr.IPv4 | ipaddr.IPv6, number][];
  allowHttp: boolean;
}

/** The settings (libs/config) a policy is read from; left out, nothing is allowed. */
export interface WebhookSettings {
  WEBHOOK_ALLOWED_HOSTS?: string;
  WEBHOOK_ALLOWED_NETWORKS?: string;
  WEBHOOK_ALLOW_HTTP?: boolean;
}

const list = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

/** A host as compared: lower case, no trailing dot, an IP address without brackets and normalized. */
function normalizeHost(host: string): string {
  const bare = host
    .toLowerCase()
    .replace(/\.$/, "")
    .replace(/^\[(.*)\]$/, "$1");
  return ipaddr.isValid(bare) ? ipaddr.process(bare).toString() : bare;
}

let cached: { key: string; policy: WebhookPolicy } | null = null;

/** Reads the settings (cached for the last ones seen); a range that does not parse throws naming it. */
export function webhookPolicy(settings: WebhookSettings): WebhookPolicy {
  const key = JSON.stringify([
    settings.WEBHOOK_ALLOWED_HOSTS,
    settings.WEBHOOK_ALLOWED_NETWORKS,
    settings.WEBHOOK_ALLOW_HTTP,
  ]);
  if (cached?.key === key) return cached.policy;
  const networks = list(settings.WEBHOOK_ALLOWED_NETWORKS).map((cidr) => {
    if (!ipaddr.isValidCIDR(cidr)) throw new Error(`WEBHOOK_ALLOWED_NETWORKS: "${cidr}" is not a CIDR range`);
    return ipaddr.parseCIDR(cidr);
  });
  const policy = {
    hosts: list(settings.WEBHOOK_ALLOWED_HOSTS).map((host) =>
      host.startsWith("*.") ? `*.${normalizeHost(host.slice(2))}` : normalizeHost(host),
    ),
    networks,
    allowHttp: settings.WEBHOOK_ALLOW_HTTP ?? false,
  };
  cached = { key, policy };
  return policy;
}

function hostAllowed(host: string, policy: WebhookPolicy): boolean {
  return policy.hosts.some(
    (pattern) =>
      pattern === "*" ||
      pattern === host ||
      (pattern.startsWith("*.") && host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1),
  );
}

/**
 * Why an address may not be called, or null when it may: a public unicast address, or one inside a
 * network the service opened. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
export function addressRefusal(address: string, policy: WebhookPolicy): string | null {
  const ip = ipaddr.process(address);
  if (policy.networks.some(([network, bits]) => network.kind() === ip.kind() && ip.match(network, bits))) {
    return null;
  }
  const range = ip.range();
  if (range === "unicast") return null;
  return `${ip.toString()} is a ${range} address, which this service's WEBHOOK_ALLOWED_NETWORKS does not open`;
}

/** A URL a Webhook may name at all, whatever the service allows: what validation checks without settings. */
export function webhookUrlIssues(url: string): Issue[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [{ path: "", message: "is not an absolute URL (https://host/path)" }];
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    return [{ path: "", message: `must be an https:// (or http://) URL, not ${parsed.protocol}` }];
  }
  if (parsed.username || parsed.password) {
    return [
      { path: "", message: "must not carry credentials (user:password@); the secret signs every request" },
    ];
  }
  return [];
}

/** What this service's policy says of a URL that passed webhookUrlIssues, before any DNS resolution. */
export function webhookTargetIssues(url: string, policy: WebhookPolicy): Issue[] {
  const parsed = new URL(url);
  if (parsed.protocol === "http:" && !policy.allowHttp) {
    return [
      { path: "", message: "must be an https:// URL: this service does not allow http (WEBHOOK_ALLOW_HTTP)" },
    ];
  }
  const host = normalizeHost(parsed.hostname);
  if (!hostAllowed(host, policy)) {
    const allowed = policy.hosts.length > 0 ? `: it allows ${policy.hosts.join(", ")}` : ": it allows none";
    return [{ path: "", message: `host ${host} is not in this service's WEBHOOK_ALLOWED_HOSTS${allowed}` }];
  }
  const refusal = ipaddr.isValid(host) ? addressRefusal(host, policy) : null;
  return refusal ? [{ path: "", message: refusal }] : [];
}
