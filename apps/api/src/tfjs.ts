import { selectBackend, type Tf } from "@plateau/training";

let loading: Promise<Tf> | undefined;

/**
 * tfjs on its plain-JS backend, loaded on first use and kept: the API never trains, it only builds a
 * submitted model once to count its parameters, so the fastest backend is not worth its start-up.
 */
export function validationTf(): Promise<Tf> {
  loading ??= selectBackend("cpu").then(
    (backend) => backend.tf,
    (error) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}
