import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Where the CLI finds its keys, first match wins:
 *   tenant key  --api-key <key>, then PLATEAU_API_KEY, then .stack/api-key
 *   admin key   --admin-key <key>, then ADMIN_API_KEY, then .stack/admin-key
 * The .stack files are the ones `npm run dev` writes, read from the current directory (the repository
 * root under `npm run cli`) and only when the API is on this machine, so a development key is never
 * sent to another host.
 */
export type KeyKind = "tenant" | "admin";

interface KeySources {
  flag: string;
  env: string;
  file: string;
}

export const KEY_SOURCES: Record<KeyKind, KeySources> = {
  tenant: { flag: "--api-key", env: "PLATEAU_API_KEY", file: ".stack/api-key" },
  admin: { flag: "--admin-key", env: "ADMIN_API_KEY", file: ".stack/admin-key" },
};

export interface ResolvedKey {
  kind: KeyKind;
  key: string | undefined;
  /** Where the key came from (`--api-key`, `PLATEAU_API_KEY`, `.stack/api-key`), or undefined: none. */
  source: string | undefined;
}

export interface KeyLookup {
  kind: KeyKind;
  /** The flag's value, if given. */
  flag: string | undefined;
  env: Record<string, string | undefined>;
  /** The directory holding `.stack/`: the current directory. */
  cwd: string;
  /** The API's base URL: the .stack file is read only when it is on this machine. */
  api: string;
}

/** Loopback names: the API `npm run dev` starts listens on 127.0.0.1. */
const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

export function isLocalApi(api: string): boolean {
  try {
    return LOCAL_HOSTS.has(new URL(api).hostname);
  } catch {
    return false;
  }
}

export function resolveKey({ kind, flag, env, cwd, api }: KeyLookup): ResolvedKey {
  const sources = KEY_SOURCES[kind];
  if (flag) return { kind, key: flag, source: sources.flag };
  const fromEnv = env[sources.env];
  if (fromEnv) return { kind, key: fromEnv, source: sources.env };
  if (isLocalApi(api)) {
    const fromFile = readKeyFile(join(cwd, sources.file));
    if (fromFile) return { kind, key: fromFile, source: sources.file };
  }
  return { kind, key: undefined, source: undefined };
}

function readKeyFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** What to do after a 401, for the key the CLI sent (or did not find). */
export function refusalHelp({ kind, key, source }: ResolvedKey): string[] {
  const { flag, env, file } = KEY_SOURCES[kind];
  const where = `pass ${flag} <key>, set ${env}, or (against an API on this machine, e.g. npm run dev) put it in ${file} in the current directory`;
  if (kind === "admin") {
    if (!key) {
      return [
        "No admin key was given: the admin commands need the API's ADMIN_API_KEY setting.",
        `Give it: ${where}.`,
      ];
    }
    return [
      `The admin key from ${source} was refused: it is not the API's ADMIN_API_KEY (an API started without ADMIN_API_KEY refuses every admin request).`,
      `Give the API's ADMIN_API_KEY: ${where}.`,
    ];
  }
  const create = "An administrator creates keys with: plateau keys create --tenant <tenant-id>";
  if (!key) {
    return [
      `No API key was given. ${capitalized(where)} (npm run dev writes the dev tenant's key there).`,
      create,
    ];
  }
  return [
    `The API key from ${source} (${key.slice(0, 13)}…) was refused: this API does not know it, or it was revoked.`,
    `Use a live key: ${where}. ${create}; plateau keys list --tenant <tenant-id> shows which are revoked.`,
  ];
}

const capitalized = (text: string) => text[0].toUpperCase() + text.slice(1);
