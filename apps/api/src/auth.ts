import { createHash, timingSafeEqual } from "node:crypto";
import { type Db, findLiveKey, touchApiKey } from "@plateau/db";
import type { FastifyRequest } from "fastify";
import type { App } from "./app";
import { ApiError } from "./errors";

/**
 * Who may call a route, declared in its options (`config: { auth: "public" }`); a route that says
 * nothing needs a tenant's key, so a new route is closed until someone opens it on purpose.
 *   key     `Authorization: Bearer <tenant key>`; the request acts for that key's tenant.
 *   admin   `Authorization: Bearer <ADMIN_API_KEY>`: tenants and keys, nothing of any tenant's work.
 *   public  no key: health, readiness, the OpenAPI document; they reveal nothing per tenant.
 *   token   a tenant key, or instead a signed `?token=` the route itself verifies (model URLs).
 */
export type AuthRule = "key" | "admin" | "public" | "token";

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthRule;
  }
  interface FastifyRequest {
    /** The key's tenant and the key, once the auth hook has accepted a tenant key. */
    caller: Caller | null;
  }
}

export interface Caller {
  tenantId: string;
  keyId: string;
}

/** last_used_at is written at most this often per key (per API process). */
const TOUCH_EVERY_MS = 60_000;

export function authRuleOf(request: FastifyRequest): AuthRule {
  return request.routeOptions.config.auth ?? "key";
}

export interface RouteRule {
  method: string;
  url: string;
  auth: AuthRule;
}

const routeRules = new WeakMap<object, RouteRule[]>();

/** Every route of the app with the rule that guards it (for the tenant tests and the docs). */
export function routesOf(app: App): RouteRule[] {
  return routeRules.get(app) ?? [];
}

/** Keeps the table `routesOf` answers with; call before any route is added. */
export function recordRouteRules(app: App): void {
  const rules: RouteRule[] = [];
  routeRules.set(app, rules);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      const auth = (route.config as { auth?: AuthRule } | undefined)?.auth ?? "key";
      if (method !== "HEAD") rules.push({ method, url: route.url, auth });
    }
  });
}

/** Installs the hook that authenticates every request before its body is read. */
export function installAuth(app: App, options: { db: Db; adminKey: string }): void {
  const touched = new Map<string, number>();
  const lookUp = sharedLookups((key: string) => findLiveKey(options.db, key));
  app.decorateRequest("caller", null);
  app.addHook("onRequest", async (request, reply) => {
    // Unknown routes fall through to the 404 handler, which reveals nothing.
    if (request.routeOptions.url === undefined) return;
    const rule = authRuleOf(request);
    if (rule === "public") return;
    const key = bearerKey(request);
    reply.header("www-authenticate", 'Bearer realm="plateau"');
    if (rule === "admin") {
      if (key === null || options.adminKey === "" || !sameSecret(key, options.adminKey)) {
        throw unauthorized("an admin key (ADMIN_API_KEY)");
      }
      return;
    }
    if (key === null && rule === "token") return;
    const found = key === null ? null : await lookUp(key);
    if (!found) throw unauthorized("an API key");
    request.caller = { tenantId: found.tenantId, keyId: found.id };
    const now = Date.now();
    if (now - (touched.get(found.id) ?? 0) >= TOUCH_EVERY_MS) {
      touched.set(found.id, now);
      touchApiKey(options.db, found.id, new Date(now)).catch((error) =>
        request.log.warn({ err: error }, "could not record the key's last use"),
      );
    }
  });
}

/**
 * `find` for each key, with group commit's pattern: at most one query per key is in flight, and the
 * requests that ask for that key meanwhile (a burst with one key) share the next one. A query is only
 * sent after every request it answers arrived, so a key revoked before a request came is refused to it.
 */
function sharedLookups<T>(find: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const sent = new Map<string, Promise<T>>();
  const next = new Map<string, Promise<T>>();
  const send = (key: string) => {
    next.delete(key);
    const query = find(key);
    sent.set(key, query);
    const answered = () => {
      if (sent.get(key) === query) sent.delete(key);
    };
    query.then(answered, answered);
    return query;
  };
  return (key) => {
    let found = next.get(key);
    if (found) return found;
    // The first of a burst waits for the end of this turn of the event loop, for the others parsed in it.
    const after = sent.get(key) ?? new Promise<void>((resolve) => setImmediate(resolve));
    found = after.then(
      () => send(key),
      () => send(key),
    );
    next.set(key, found);
    return found;
  };
}

/** The caller of a route whose rule is "key" (the hook has run); a programming error otherwise. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new Error(`route ${request.routeOptions.url} has no authenticated caller`);
  return request.caller;
}

function bearerKey(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  const match = typeof header === "string" ? /^Bearer +(\S+) *$/i.exec(header) : null;
  return match ? match[1] : null;
}

// Equal-length digests, so the comparison takes the same time whatever the guess.
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function unauthorized(what: string): ApiError {
  return new ApiError(
    401,
    "unauthorized",
    `This route needs ${what}: send "Authorization: Bearer <key>". Keys are created by an administrator (POST /v1/admin/tenants/:id/keys, or plateau keys create).`,
  );
}
