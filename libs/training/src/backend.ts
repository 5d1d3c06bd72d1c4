import { createRequire } from "node:module";
import path from "node:path";
import { activeWasmFallbacks, registerWasmFallbacks } from "./wasm-fallback";
export type Tf = typeof import("@tensorflow/tfjs");
export type BackendName = "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu";
export type BackendPreference = "auto" | BackendName;

export interface SelectedBackend {
  /** The backend training runs on. */
  name: BackendName;
  /** The tfjs namespace bound to that backend (tfjs-node's own for the native backends). */
  tf: Tf;
  /** One line per backend tried, in order: which loaded and why the others were skipped. */
  report: string[];
  /**
   * Kernels the backend lacks that run on tfjs's cpu backend instead, at its speed (wasm only: see
   * wasm-fallback.ts), sorted.
   */
  cpuFallbacks: string[];
}

export interface SelectBackendOptions {
  /** Receives, once per process, which kernels were set to fall back to the cpu backend. Default: console.warn. */
  log?: (message: string) => void;
}

interface Candidate {
  name: BackendName;
  load: (log: (message: string) => void) => Promise<Tf>;
  /** What a user must do to make this backend available. */
  install: string;
}

export const BACKEND_ORDER: readonly BackendName[] = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"];

const require = createRequire(import.meta.url);

/**
 * Native bindings are optional packages that may be absent, so they are imported by a specifier the
 * type checker and bundlers do not resolve; both re-export the tfjs namespace with the native backend
 * registered as "tensorflow".
 */
async function loadNative(specifier: string): Promise<Tf> {
  const native = (await import(/* @vite-ignore */ specifier)) as Tf;
  if (!(await native.setBackend("tensorflow"))) throw new Error(`${specifier} did not initialise`);
  return native;
}

async function loadWasm(log: (message: string) => void): Promise<Tf> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  // Node has no page URL to resolve the .wasm files against: point at the package's dist folder on disk,
  // which also keeps start-up offline.
  const dist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist");
  wasm.setWasmPaths(`${dist}${path.sep}`);
  const tfjs = await import("@tensorflow/tfjs");
  if (!(await tfjs.setBackend("wasm"))) throw new Error("the wasm backend did not initialise");
  // Kernels wasm lacks (Conv2DBackpropFilter for a Conv2D's weights, UnsortedSegmentSum for an Embedding's)
  // would fail the job: they run on the cpu backend instead.
  const { added, unsupported } = registerWasmFallbacks(tfjs);
  if (added.length > 0) {
    log(
      `wasm: ${added.length} kernels it lacks run on the cpu backend, at cpu speed: ${added.join(", ")}` +
        (unsupported.length > 0
          ? `; still missing (complex64, which wasm cannot hold): ${unsupported.join(", ")}`
          : ""),
    );
  }
  return tfjs;
}

async function loadCpu(): Promise<Tf> {
  const tfjs = await import("@tensorflow/tfjs");
  if (!(await tfjs.setBackend("cpu"))) throw new Error("the cpu backend did not initialise");
  return tfjs;
}

const CANDIDATES: Record<BackendName, Candidate> = {
  "tensorflow-gpu": {
    name: "tensorflow-gpu",
    load: () => loadNative("@tensorflow/tfjs-node-gpu"),
    install:
      "npm install @tensorflow/tfjs-node-gpu@4.22.0 (Linux x64 with CUDA 11.2 and cuDNN 8.1; downloads libtensorflow)",
  },
  tensorflow: {
    name: "tensorflow",
    load: () => loadNative("@tensorflow/tfjs-node"),
    install: "npm install @tensorflow/tfjs-node@4.22.0 (downloads libtensorflow)",
  },
  wasm: { name: "wasm", load: loadWasm, install: "npm install @tensorflow/tfjs-backend-wasm@4.22.0" },
  cpu: { name: "cpu", load: loadCpu, install: "npm install @tensorflow/tfjs@4.22.0" },
};

function reason(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return "package not installed";
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

/**
 * Loads the fastest tfjs backend available ("auto": native GPU, native CPU, wasm, then plain JS), or
 * exactly the one asked for, failing with what to install when it cannot load.
 */
export async function selectBackend(
  preference: BackendPreference = "auto",
  { log = console.warn }: SelectBackendOptions = {},
): Promise<SelectedBackend> {
  const order = preference === "auto" ? BACKEND_ORDER : [preference];
  const report: string[] = [];
  for (const name of order) {
    const candidate = CANDIDATES[name];
    try {
      const tf = await candidate.load(log);
      await tf.ready();
      report.push(`${name}: loaded`);
      return { name, tf, report, cpuFallbacks: name === "wasm" ? activeWasmFallbacks(tf) : [] };
    } catch (error) {
      report.push(`${name}: skipped (${reason(error)})`);
      if (preference !== "auto") {
        throw new Error(
          `tfjs backend "${name}" is unavailable: ${reason(error)}. To use it: ${candidate.install}`,
        );
      }
    }
  }
  throw new Error(`no tfjs backend could be loaded: ${report.join("; ")}`);
}
