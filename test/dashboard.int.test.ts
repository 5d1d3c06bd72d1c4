import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PlateauClient } from "@plateau/client";
import { loadConfig } from "@plateau/config";
import type { JobSpec } from "@plateau/contract";
import { exampleJob } from "@plateau/spec/example";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../apps/api/src/test-api";
import { stopChild } from "./services";

/**
 * The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core) against a
 * real API and worker: sign in, watch a running job's charts grow and a learning-rate marker appear,
 * compare two jobs, cancel one from the page with the keyboard; a screenshot of the job page is kept.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ARTIFACTS = join(ROOT, "test-artifacts");
const base = loadConfig();
const REDIS_PREFIX = `${base.REDIS_PREFIX}-dashboard`;
// Generous: on a busy 2-core machine a worker's trainer process takes tens of seconds to load tfjs.
const WAIT_MS = 90_000;
const ADMIN_API_KEY = `dashboard-admin-${randomUUID()}`;
const TEST_MS = 120_000;

/** Iris, a few epochs: done while the long job is watched. */
function shortJob(): JobSpec {
  const spec = exampleJob() as JobSpec;
  spec.name = "dash-short";
  spec.fit.epochs = 4;
  return spec;
}

/**
 * Long enough to watch and cancel (a few hundred batches per epoch), with a ReduceLROnPlateau whose
 * min_delta no epoch can beat: it reduces the learning rate at the end of the second epoch.
 */
function longJob(): JobSpec {
  return {
    name: "dash-long",
    model: {
      layers: [
        { class_name: "Dense", config: { units: 16, activation: "relu", input_shape: [4] } },
        { class_name: "Dense", config: { units: 1 } },
      ],
    },
    compile: { optimizer: { name: "sgd", learning_rate: 0.01 }, loss: "mse" },
    data: { source: "builtin", name: "regression", samples: 3000, seed: 1 },
    fit: { epochs: 200, batch_size: 8, validation_split: 0.2 },
    callbacks: [{ type: "ReduceLROnPlateau", monitor: "loss", patience: 1, factor: 0.5, min_delta: 100 }],
  } as JobSpec;
}

let api: TestApi;
let client: PlateauClient;
let worker: ChildProcess | undefined;
let workerLog = "";
let context: BrowserContext | undefined;
let profile: string;
let page: Page;

async function startWorker(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("../apps/worker/src/main.ts", import.meta.url))],
    {
      env: {
        ...process.env,
        REDIS_PREFIX,
        TFJS_BACKEND: "wasm",
        EVENT_FLUSH_MS: "50",
        BATCH_METRICS_EVERY: "50",
        BATCH_METRICS_INTERVAL_MS: "200",
        // Both jobs at once: the short one finishes while the long one is watched.
        WORKER_CONCURRENCY: "2",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      workerLog = (workerLog + chunk.toString()).slice(-20_000);
      if (workerLog.includes('"msg":"worker ready"')) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) =>
      reject(new Error(`the worker exited (${code}) before it was ready:\n${workerLog}`)),
    );
  });
  return child;
}

beforeAll(async () => {
  const [, started] = await Promise.all([
    build({ configFile: join(ROOT, "apps/dashboard/vite.config.ts") }),
    startTestApi({ REDIS_PREFIX, ADMIN_API_KEY }),
  ]);
  api = started;
  client = new PlateauClient({ baseUrl: api.url, apiKey: api.tenant.key });
  worker = await startWorker();
  profile = await mkdtemp(join(tmpdir(), "plateau-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
});

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  if (worker) await stopChild(worker);
  await api?.close();
});

/** A chart's point count, as the page publishes it on the chart's figure. */
async function points(chart: string): Promise<number> {
  return Number(await page.locator(`figure[data-chart="${chart}"]`).getAttribute("data-points"));
}

async function noHorizontalOverflow(width: number): Promise<void> {
  await page.setViewportSize({ width, height: 800 });
  // Give the charts' resize observers a frame to fit the new width.
  await page.evaluate(
    () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
  );
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, `horizontal overflow at ${width}px`).toBeLessThanOrEqual(0);
}

describe("the dashboard", () => {
  let short: string;
  let long: string;

  it("serves its page with caching headers: the page no-cache, hashed assets immutable", async () => {
    const index = await fetch(`${api.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${api.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(asset.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await fetch(`${api.url}/assets/missing-123.js`)).status).toBe(404);
  });

  it(
    "signs in with an API key, refusing a wrong one, and lists the tenant's jobs",
    async () => {
      short = (await client.submitJob(shortJob())).id;
      long = (await client.submitJob(longJob())).id;
      await page.goto(`${api.url}/`);
      await page.fill("#api-key", "plat_wrongwrongwrongwrongwrongwrongwr");
      await page.keyboard.press("Enter");
      await expect
        .poll(() => page.textContent(".sign-in .message"), { timeout: WAIT_MS })
        .toContain("refused");
      await page.fill("#api-key", api.tenant.key);
      await page.keyboard.press("Enter");
      await page.waitForSelector(`tr[data-job="${long}"]`, { timeout: WAIT_MS });
      expect(await page.evaluate(() => sessionStorage.getItem("plateau.apiKey"))).toBe(api.tenant.key);
      await page.fill("#name-filter", "short");
      await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
      expect(await page.locator(`tr[data-job="${short}"]`).count()).toBe(1);
    },
    TEST_MS,
  );

  it(
    "charts a running job live, marks the learning-rate reduction, and cancels it from the keyboard",
    async () => {
      await page.goto(`${api.url}/#/jobs/${long}`);
      await page.waitForSelector('dd[data-field="Status"]:text("running")', { timeout: WAIT_MS });
      await page.selectOption("#level", "batch");
      await expect.poll(() => points("loss"), { timeout: WAIT_MS }).toBeGreaterThan(0);
      const first = await points("loss");
      await expect.poll(() => points("loss"), { timeout: WAIT_MS }).toBeGreaterThan(first);
      const marker = page.locator('.markers li[data-kind="reduce_lr"]').first();
      await marker.waitFor({ timeout: WAIT_MS });
      expect(await marker.textContent()).toMatch(/ReduceLROnPlateau: learning rate 0\.01 → 0\.005/);
      expect(await points("learning rate")).toBeGreaterThan(0);
      await page.check("#lr-log");
      await page.selectOption("#x-axis", "step");
      await page.fill("#smoothing", "0.999");
      await mkdir(ARTIFACTS, { recursive: true });
      const screenshot = join(ARTIFACTS, "dashboard-job.png");
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`dashboard screenshot: ${screenshot}`);

      await noHorizontalOverflow(390);
      await noHorizontalOverflow(1280);

      // Reach the cancel button by the keyboard alone.
      await page.focus("#main");
      let focused = "";
      for (let i = 0; i < 40 && focused !== "cancel"; i++) {
        await page.keyboard.press("Tab");
        focused = await page.evaluate(() => document.activeElement?.id ?? "");
      }
      expect(focused).toBe("cancel");
      await page.keyboard.press("Enter");
      await page.waitForSelector('dd[data-field="Status"]:text("cancelled")', { timeout: WAIT_MS });
      expect(await page.textContent('dd[data-field="Stop reason"]')).toBe("user_cancel");
      expect((await client.getJob(long)).stop_reason).toBe("user_cancel");
    },
    TEST_MS,
  );

  it(
    "compares two jobs: one metric overlaid and a table of their spec differences",
    async () => {
      await page.goto(`${api.url}/#/compare?ids=${short},${long}`);
      await expect.poll(() => points("comparison"), { timeout: WAIT_MS }).toBeGreaterThan(0);
      const settings = await page.locator("table.diff tbody th").allTextContents();
      expect(settings).toEqual(
        expect.arrayContaining(["compile/optimizer/name", "callbacks/0/monitor", "fit/epochs"]),
      );
      await noHorizontalOverflow(390);
    },
    TEST_MS,
  );

  it("lists the live workers with the admin key", async () => {
    await page.goto(`${api.url}/#/workers`);
    await page.fill("#admin-key", ADMIN_API_KEY);
    await page.keyboard.press("Enter");
    const worker = page.locator("tr[data-worker]").first();
    await worker.waitFor({ timeout: WAIT_MS });
    expect(await worker.locator("td").nth(1).textContent()).toBe("wasm");
  });

  it("shows a spec's problems at their paths before sending it", async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${api.url}/#/submit`);
    const spec = shortJob();
    spec.fit.epochs = 0;
    await page.fill("#spec", JSON.stringify(spec));
    await page.click("#check");
    await page.waitForSelector('.problems li[data-path="/fit/epochs"]', { timeout: WAIT_MS });
    expect((await client.listJobs({ limit: 100 })).items).toHaveLength(2);
  });
});
