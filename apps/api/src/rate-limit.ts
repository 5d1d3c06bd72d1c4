import rateLimit from "@fastify/rate-limit";
import type { App } from "./app";
import { authRuleOf } from "./auth";
import type { ApiDeps } from "./deps";
import { ApiError } from "./errors";

/**
 * RATE_LIMIT_PER_MINUTE requests per API key (per address for requests without a valid key), counted in
 * Redis so the limit holds however many API instances share the load. Runs after authentication, so
 * the key is known. Health and readiness are never limited. When Redis cannot be reached the limit is
 * skipped rather than failing every request: readiness reports Redis down anyway.
 */
export async function installRateLimit(app: App, deps: Pick<ApiDeps, "config" | "redis">): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: deps.config.RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    redis: deps.redis,
    nameSpace: `${deps.config.REDIS_PREFIX}:rate-limit:`,
    skipOnError: true,
    keyGenerator: (request) => (request.caller ? `key:${request.caller.keyId}` : `ip:${request.ip}`),
    allowList: (request) => authRuleOf(request) === "public",
    errorResponseBuilder: (_request, context) =>
      new ApiError(
        429,
        "too_many_requests",
        `More than ${context.max} requests in a minute with this API key; retry in ${Math.ceil(context.ttl / 1000)} s (RATE_LIMIT_PER_MINUTE).`,
        [],
        { "retry-after": String(Math.ceil(context.ttl / 1000)) },
      ),
  });
}
