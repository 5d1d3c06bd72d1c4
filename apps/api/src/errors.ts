import { capIssues, type ErrorResponse, type Issue, pointerToken } from "@plateau/contract";
import { isRedisUnavailable } from "@plateau/queue";
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from "fastify";
import Type from "typebox";
import type { App } from "./app";

/** Where a route's responses name the error shape (registered once by the app). */
export const ErrorRef = Type.Ref("ErrorResponse");

/** Throw from a handler to answer with the error shape, e.g. `new ApiError(409, "conflict", "...")`. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: Issue[] = [],
    /** Response headers that go with the error, e.g. Retry-After on a 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  406: "not_acceptable",
  409: "conflict",
  413: "payload_too_large",
  414: "uri_too_long",
  415: "unsupported_media_type",
  422: "unprocessable",
  429: "too_many_requests",
  503: "unavailable",
};

/** Installs the error and not-found handlers that give every failure the ErrorResponse shape. */
export function installErrorHandling(app: App): void {
  app.setErrorHandler<FastifyError | ApiError>((error, request, reply) => {
    if (error instanceof ApiError) {
      return reply
        .code(error.statusCode)
        .headers(error.headers)
        .send(body(error.code, error.message, error.details));
    }
    if (error.validation) {
      const details = validationDetails(error.validation, error.validationContext ?? "body");
      return reply
        .code(400)
        .send(
          body(
            "invalid_request",
            `The request ${error.validationContext ?? "body"} is invalid: fix the fields listed in details.`,
            details,
          ),
        );
    }
    const down = unavailableDependency(error);
    if (down !== null) {
      request.log.warn({ err: error, dependency: down }, "a dependency is unavailable");
      return reply
        .code(503)
        .header("retry-after", String(UNAVAILABLE_RETRY_AFTER_S))
        .send(
          body(
            "unavailable",
            `${down} is unavailable right now; nothing was changed by this request, retry in a few seconds.`,
          ),
        );
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status < 500) return reply.code(status).send(body(CODES[status] ?? "bad_request", error.message));
    request.log.error({ err: error }, "request failed");
    return reply
      .code(status)
      .send(
        body(
          CODES[status] ?? "internal_error",
          `Something went wrong on our side (request id ${request.id}); it has been logged.`,
        ),
      );
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(body("not_found", `There is no route ${request.method} ${request.url.split("?")[0]}.`)),
  );
}

export const UNAVAILABLE_RETRY_AFTER_S = 5;
// Prisma: database unreachable or timed out, connection closed, pool timeout.
const PRISMA_UNAVAILABLE = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
// A raw statement's failure is P2010 whatever the cause; the driver adapter's kind tells an outage apart.
const ADAPTER_UNAVAILABLE = new Set([
  "DatabaseNotReachable",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
  "TlsConnectionError",
]);
const NETWORK_UNAVAILABLE = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "EPIPE"]);

/**
 * Which service a failure says is down — Postgres, Redis or S3 — or null for any other failure. One
 * mapping for every route: a dependency's outage is a 503 with Retry-After, not a 500.
 */
export function unavailableDependency(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const { code, cause, meta } = error as {
    code?: unknown;
    cause?: { code?: unknown };
    meta?: { driverAdapterError?: { cause?: { kind?: unknown } } };
  };
  if (
    error.name === "PrismaClientInitializationError" ||
    PRISMA_UNAVAILABLE.has(String(code)) ||
    ADAPTER_UNAVAILABLE.has(String(meta?.driverAdapterError?.cause?.kind))
  ) {
    return "Postgres";
  }
  if (isRedisUnavailable(error)) return "Redis";
  if (NETWORK_UNAVAILABLE.has(String(code)) || NETWORK_UNAVAILABLE.has(String(cause?.code))) {
    // The AWS SDK marks its errors with $metadata; other clients' connection errors are Postgres's or Redis's.
    return "$metadata" in error ? "S3" : "A service Plateau depends on";
  }
  return null;
}

/**
 * Fastify's `frameworkErrors`: what its router refuses before any route or hook runs — a path that is
 * not valid percent-encoding (400), a path parameter over maxParamLength (414) — in the same shape.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status =
    error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const message =
    error.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? "A path segment is too long: no id or file name of this API is longer than 100 characters."
      : error.code === "FST_ERR_BAD_URL"
        ? "The URL path is not valid: a % must start a %XX escape of UTF-8."
        : error.message;
  void reply.code(status).send(body(CODES[status] ?? "bad_request", message));
}

function body(error: string, message: string, details: Issue[] = []): ErrorResponse {
  return { error, message, details: capIssues(details) };
}

/** One detail per problem, pointing at the offending field itself (not its parent object). */
function validationDetails(errors: FastifySchemaValidationError[], context: string): Issue[] {
  const prefix = context === "body" ? "" : `/${context}`;
  const seen = new Set<string>();
  const details: Issue[] = [];
  for (const error of errors) {
    let path = error.instancePath;
    let message = error.message ?? error.keyword;
    if (error.keyword === "required") {
      path += `/${pointerToken(String(error.params.missingProperty))}`;
      message = "is required";
    } else if (error.keyword === "additionalProperties") {
      path += `/${pointerToken(String(error.params.additionalProperty))}`;
      message = "is not a known property";
    }
    const detail = { path: prefix + path, message };
    const key = `${detail.path}\n${detail.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      details.push(detail);
    }
  }
  return details;
}
