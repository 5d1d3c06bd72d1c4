import type { AddressInfo } from "node:net";
import { type Config, loadConfig } from "@plateau/config";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { createTestTenant, type TestTenant } from "../../../test/tenants";
import type { App } from "./app";
import { type ApiDeps, closeDeps, createDeps } from "./deps";
import { buildServer } from "./server";

export interface TestApi {
  app: App;
  deps: ApiDeps;
  /** Origin of the listening server, for clients that need real HTTP (SSE, tf.loadLayersModel). */
  url: string;
  /** A tenant of this API's own, with a key. */
  tenant: TestTenant;
  /** `app.inject` as the tenant: its key is sent unless the request sets `authorization` itself. */
  inject(options: InjectOptions | string): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** The API on the integration run's services, listening on a free port. For *.int.test.ts files. */
export async function startTestApi(overrides: Partial<Config> = {}): Promise<TestApi> {
  const deps = createDeps({ ...loadConfig(), LOG_LEVEL: "silent", ...overrides });
  const app = await buildServer(deps);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const tenant = await createTestTenant(deps.db, "api");
  return {
    app,
    deps,
    url: `http://127.0.0.1:${port}`,
    tenant,
    inject: (options) => {
      const request = typeof options === "string" ? { url: options } : options;
      return app.inject({ ...request, headers: { ...tenant.headers, ...request.headers } });
    },
    close: async () => {
      await app.close();
      await closeDeps(deps);
    },
  };
}
