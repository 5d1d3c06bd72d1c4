import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The dashboard's build: one page, hashed assets under assets/ (served immutable by
 * apps/api/src/routes/dashboard.ts). `vite build apps/dashboard` writes apps/dashboard/dist;
 * `npm run build` writes dist/dashboard beside the API's bundle.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  resolve: {
    // @plateau/client's reconnect delay is the one Node import it has; the browser gets the same promise.
    alias: { "node:timers/promises": fileURLToPath(new URL("./src/delay.ts", import.meta.url)) },
  },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", reportCompressedSize: true },
  logLevel: "warn",
});
