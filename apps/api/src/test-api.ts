import type { AddressInfo } from "node:net";
import { type Config, loadConfig } from "@plateau/config";
import type { App } from "./app";
import { type ApiDeps, closeDeps, createDeps } from "./deps";
import { buildServer } from "./server";

export interface TestApi {
  app: App;
  deps: ApiDeps;
  /** Origin of the listening server, for clients that need real HTTP (SSE, tf.loadLayersModel). */
  url: string;
  close(): Promise<void>;
}

/** The API on the integration run's services, listening on a free port. For *.int.test.ts files. */
export async function startTestApi(overrides: Partial<Config> = {}): Promise<TestApi> {
  const deps = createDeps({ ...loadConfig(), LOG_LEVEL: "silent", ...overrides });
  const app = await buildServer(deps);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    deps,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await app.close();
      await closeDeps(deps);
    },
  };
}
