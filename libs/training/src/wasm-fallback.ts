import type {
  BackendValues,
  DataId,
  DataType,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  NamedTensorInfoMap,
  TensorInfo,
} from "@tensorflow/tfjs";
import type { Tf } from "./backend";

/**
 * Kernels that take or make complex64 tensors. The wasm backend stores float32, int32, bool and string
 * tensors only (its readSync throws on complex64), so running these on cpu would hand wasm tensors it
 * cannot hold: they are left missing, and tfjs fails naming the kernel. No Keras layer uses them.
 */
export const COMPLEX_KERNELS: readonly string[] = ["Complex", "ComplexAbs", "FFT", "IFFT", "Imag", "Real"];

/** What the wasm backend offers that the kernels below need (tfjs-backend-wasm's BackendWasm). */
interface WasmStorage {
  readSync(dataId: DataId): BackendValues;
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number, values?: BackendValues): TensorInfo;
}

export interface WasmFallbacks {
  /** Kernels registered on wasm by this call (empty when an earlier call already registered them). */
  added: string[];
  /** Every kernel that runs on the cpu backend when training on wasm, sorted. */
  active: string[];
  /** Kernels cpu has and wasm lacks that are left missing (complex64), sorted. */
  unsupported: string[];
}

/** Kernel configs registered here, so that a later call tells them from wasm's own kernels. */
const registered = new WeakSet<KernelConfig>();

/** Kernel names registered for `reference` that `backend` has no kernel for, sorted. */
export function missingKernels(tf: Tf, backend: string, reference = "cpu"): string[] {
  const present = new Set(tf.getKernelsForBackend(backend).map((kernel) => kernel.kernelName));
  return tf
    .getKernelsForBackend(reference)
    .map((kernel) => kernel.kernelName)
    .filter((name) => !present.has(name))
    .sort();
}

/** The wasm kernels registered by registerWasmFallbacks, sorted. */
export function activeWasmFallbacks(tf: Tf): string[] {
  return tf
    .getKernelsForBackend("wasm")
    .filter((kernel) => registered.has(kernel))
    .map((kernel) => kernel.kernelName)
    .sort();
}

/** Values as the typed array wasm copies bytes from (cpu kernels may return another array type). */
function forWasm(values: BackendValues, dtype: DataType): BackendValues {
  switch (dtype) {
    case "float32":
      return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    case "int32":
      return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
    case "bool":
      return values instanceof Uint8Array ? values : Uint8Array.from(values as ArrayLike<number>);
    default:
      return values;
  }
}

/**
 * A wasm kernel that runs cpu's kernel `kernelName`: it copies the inputs out of the wasm heap into
 * tensors of the cpu backend, runs cpu's kernel function on them, copies its outputs into new wasm
 * tensors and frees every cpu tensor it made. Nothing is registered with the engine on the cpu side,
 * so the engine sees one wasm kernel taking wasm tensors and returning new wasm tensors.
 */
function cpuFallback(tf: Tf, kernelName: string): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const cpuKernel = tf.getKernel(kernelName, "cpu");
    const cpu = tf.findBackend("cpu") as KernelBackend | null;
    if (cpuKernel == null || cpu == null) {
      throw new Error(`${kernelName} has no wasm kernel and the cpu backend to run it on is unavailable`);
    }
    const wasm = backend as WasmStorage;
    const made: DataId[] = [];
    try {
      // Some kernels (Einsum) take their inputs as an array rather than a map by name: keep the form.
      const cpuInputs = (Array.isArray(inputs) ? [] : {}) as NamedTensorInfoMap;
      for (const [name, input] of Object.entries(inputs)) {
        if (input == null) continue;
        const dataId: DataId = {};
        cpu.move(dataId, wasm.readSync(input.dataId), input.shape, input.dtype, 1);
        made.push(dataId);
        cpuInputs[name] = { dataId, shape: input.shape, dtype: input.dtype };
      }
      const result = cpuKernel.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs });
      const outputs = Array.isArray(result) ? result : [result];
      for (const output of outputs) made.push(output.dataId);
      // Every output is read before any cpu tensor is freed: a cpu kernel may return one of its inputs.
      const wasmOutputs = outputs.map((output) =>
        wasm.makeOutput(
          output.shape,
          output.dtype,
          undefined,
          forWasm(cpu.readSync(output.dataId), output.dtype),
        ),
      );
      return Array.isArray(result) ? wasmOutputs : wasmOutputs[0];
    } finally {
      // These cpu tensors exist only inside this call, so they are freed whatever their reference count.
      for (const dataId of new Set(made)) cpu.disposeData(dataId, true);
    }
  };
}

/**
 * Registers, for every kernel the cpu backend has and the wasm backend lacks (read from tfjs's kernel
 * registry at call time), a wasm kernel that runs the cpu one — except complex64 kernels. A kernel wasm
 * has is never replaced, and calling this again adds nothing.
 */
export function registerWasmFallbacks(tf: Tf): WasmFallbacks {
  const missing = missingKernels(tf, "wasm");
  const added: string[] = [];
  const unsupported: string[] = [];
  if (tf.findBackendFactory("cpu") != null) {
    for (const kernelName of missing) {
      if (COMPLEX_KERNELS.includes(kernelName)) {
        unsupported.push(kernelName);
        continue;
      }
      const config: KernelConfig = {
        kernelName,
        backendName: "wasm",
        kernelFunc: cpuFallback(tf, kernelName),
      };
      tf.registerKernel(config);
      registered.add(config);
      added.push(kernelName);
    }
  } else {
    unsupported.push(...missing);
  }
  return { added, active: activeWasmFallbacks(tf), unsupported };
}
