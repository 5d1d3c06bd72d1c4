import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import Type from "typebox";
import type { ApiDeps } from "../deps";
import { ApiError, ErrorRef } from "../errors";

/**
 * Where Vite writes the dashboard (apps/dashboard): next to the bundle in production (`npm run build`
 * puts it in dist/dashboard beside dist/api.js), else the workspace's apps/dashboard/dist (`npm run dev`
 * and the browser test build it there). Looked up per request, so a build made while the API runs is served.
 */
const BUNDLE_DIRS = [
  new URL("./dashboard/", import.meta.url),
  new URL("../../../dashboard/dist/", import.meta.url),
];

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

// The page loads only its own scripts and styles and talks only to this origin; uPlot sets inline styles.
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** A Vite asset name: hashed, one path segment, no dot files (so nothing outside assets/ is reachable). */
const AssetName = Type.String({ pattern: "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$" });

/**
 * The dashboard (apps/dashboard), same origin as the API so its requests carry the key without CORS:
 * `/` is its page (no-cache: a deploy takes effect at once), `/assets/*` its hashed files (immutable).
 */
export const dashboardRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app) => {
  app.get(
    "/",
    {
      config: { auth: "public" },
      schema: {
        hide: true,
        response: { 404: ErrorRef },
      },
    },
    async (_request, reply) => {
      const page = await readBundleFile("index.html");
      if (page === null) {
        throw new ApiError(
          404,
          "dashboard_not_built",
          "The dashboard has not been built: run `npm run build` (production, into dist/dashboard) or " +
            "`npx vite build apps/dashboard` (into apps/dashboard/dist; `npm run dev` does this), then reload.",
        );
      }
      return send(reply, page, "text/html; charset=utf-8", "no-cache");
    },
  );

  app.get(
    "/assets/:file",
    {
      config: { auth: "public" },
      schema: {
        hide: true,
        params: Type.Object({ file: AssetName }),
        response: { 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request, reply) => {
      const { file } = request.params;
      const type = CONTENT_TYPES[extname(file)];
      const content = type === undefined ? null : await readBundleFile(`assets/${file}`);
      if (type === undefined || content === null) {
        throw new ApiError(404, "not_found", `The dashboard has no asset ${file}; reload the page.`);
      }
      // Vite puts a content hash in every asset's name, so a name never changes meaning.
      return send(reply, content, type, "public, max-age=31536000, immutable");
    },
  );
};

function send(reply: FastifyReply, content: Buffer, type: string, cacheControl: string): FastifyReply {
  return reply
    .headers({ ...SECURITY_HEADERS, "content-type": type, "cache-control": cacheControl })
    .send(content);
}

async function readBundleFile(path: string): Promise<Buffer | null> {
  for (const dir of BUNDLE_DIRS) {
    try {
      return await readFile(fileURLToPath(new URL(path, dir)));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "EISDIR") throw error;
    }
  }
  return null;
}
