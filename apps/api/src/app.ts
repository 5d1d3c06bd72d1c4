import type { IncomingMessage, ServerResponse } from "node:http";
import sse from "@fastify/sse";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Config } from "@plateau/config";
import { ErrorResponseSchema } from "@plateau/contract";
import { Ajv, type Options as AjvOptions } from "ajv";
import addFormats from "ajv-formats";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifySchemaCompiler,
  type RawServerDefault,
} from "fastify";
import type { Logger } from "pino";
import { recordRouteRules } from "./auth";
import { installJsonBodyParser } from "./body-limits";
import { frameworkErrors, installErrorHandling } from "./errors";
import { finiteNumbersOnly } from "./text-numbers";

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

// Every problem at once, and no silent fixes: unknown properties are errors, not dropped.
const strictOptions: AjvOptions = { allErrors: true, removeAdditional: false, useDefaults: true };
// Bodies are JSON, so "50" for a number is a mistake to report. Query strings and path parameters
// are text by nature and are converted to the schema's types.
const bodyAjv = addFormats.default(new Ajv({ ...strictOptions, coerceTypes: false }));
const textAjv = addFormats.default(new Ajv({ ...strictOptions, coerceTypes: "array" }));

const compileSchema: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  httpPart === "body" ? bodyAjv.compile(schema) : finiteNumbersOnly(textAjv.compile(schema));

/**
 * Route-level compiler for a body whose schema documents it (OpenAPI) while the handler checks it:
 * a job spec, whose semantic problems must arrive together with the schema ones, or a streamed upload.
 * Parameters, query strings and headers are still validated here.
 */
export const bodyCheckedByHandler: FastifySchemaCompiler<unknown> = (route) =>
  route.httpPart === "body" ? (value) => ({ value }) : compileSchema(route);

const SSE_HEARTBEAT_MS = 15_000;

/**
 * Fastify with the conventions every route relies on: pino logs, TypeBox-typed routes validated by
 * ajv, the OpenAPI document collected from route schemas, and one error shape. Routes are added by
 * the caller (see server.ts); nothing here touches Postgres, Redis or S3.
 */
export async function createApp(config: Pick<Config, "MAX_INLINE_BYTES">, log: Logger): Promise<App> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps App's logger type the documented one.
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: config.MAX_INLINE_BYTES,
    frameworkErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();
  recordRouteRules(app);
  app.setValidatorCompiler(compileSchema);
  installErrorHandling(app);
  installJsonBodyParser(app);
  app.addSchema(ErrorResponseSchema);
  await app.register(swagger, {
    // Shared schemas appear in the document under their $id (components.schemas.ErrorResponse).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Plateau",
        version: "0.1.0",
        description: "Keras-style training jobs as a service.",
      },
    },
  });
  // Before any route: the plugin wraps the handlers of routes declared with `sse`. Heartbeat comments
  // keep proxies from closing a stream that is quiet between epochs.
  await app.register(sse, { heartbeatInterval: SSE_HEARTBEAT_MS });
  app.get("/openapi.json", { config: { auth: "public" }, schema: { hide: true } }, () => app.swagger());
  return app;
}
