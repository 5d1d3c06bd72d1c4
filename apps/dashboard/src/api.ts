import { PlateauClient } from "@plateau/client";

const KEY = "plateau.apiKey";

/** The API key lives in sessionStorage only: gone when the browser session ends, never in a cookie. */
export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function rememberKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

/** Signing out forgets every key the tab holds (the workers page's admin key too). */
export function forgetKey(): void {
  sessionStorage.clear();
}

/** The API is the page's own origin. */
export function api(key = storedKey() ?? undefined): PlateauClient {
  return new PlateauClient({ baseUrl: location.origin, apiKey: key });
}
