import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import Type from "typebox";
import { ApiError } from "../errors";

/** One dependency check: resolves when the dependency answers; should stop when `signal` aborts. */
export type Check = (signal: AbortSignal) => Promise<unknown>;

export interface HealthOptions {
  checks: Record<string, Check>;
  timeoutMs: number;
}

const ReadySchema = Type.Object({
  status: Type.Literal("ready"),
  checks: Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), ms: Type.Number() })),
});

/**
 * `/healthz`: the process is alive (for restarts). `/readyz`: every dependency answered within the
 * timeout (for load balancers); otherwise 503 naming each failing dependency in `details`.
 */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { checks, timeoutMs }) => {
  app.get(
    "/healthz",
    {
      config: { auth: "public" },
      schema: { tags: ["health"], response: { 200: Type.Object({ status: Type.Literal("ok") }) } },
    },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/readyz",
    {
      config: { auth: "public" },
      schema: {
        tags: ["health"],
        response: { 200: ReadySchema, 503: Type.Ref("ErrorResponse") },
      },
    },
    async () => {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => ({
          name,
          ...(await runCheck(check, timeoutMs)),
        })),
      );
      const failed = results.filter((result) => result.error !== undefined);
      if (failed.length > 0) {
        throw new ApiError(
          503,
          "not_ready",
          `Not ready: ${failed.map((result) => result.name).join(", ")} did not answer.`,
          failed.map((result) => ({ path: `/${result.name}`, message: result.error! })),
        );
      }
      return {
        status: "ready" as const,
        checks: Object.fromEntries(results.map((result) => [result.name, { ok: true, ms: result.ms }])),
      };
    },
  );
};

async function runCheck(check: Check, timeoutMs: number): Promise<{ ms: number; error?: string }> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([check(controller.signal), timeout]);
    return { ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { ms: Math.round(performance.now() - started), error: describe(error) };
  } finally {
    clearTimeout(timer);
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
