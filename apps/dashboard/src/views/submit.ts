import { ApiError } from "@plateau/client";
import type { Issue, SimulationInput, SimulationResult } from "@plateau/contract";
import { api } from "../api";
import { formatNumber, h } from "../dom";

/**
 * Submit a job spec (pasted or uploaded JSON): every problem shown at its path before anything is
 * sent for real (the API's dry run), and a dry run of its callbacks on an uploaded metric curve.
 */
export function submitView(root: HTMLElement): () => void {
  const spec = h("textarea", { id: "spec", rows: 18, spellcheck: false, "aria-describedby": "spec-help" });
  const specFile = h("input", { id: "spec-file", type: "file", accept: ".json,application/json" });
  const problems = h("ul", { class: "problems", id: "problems", "aria-live": "polite" });
  const check = h("button", { type: "button", id: "check" }, "Check");
  const submit = h("button", { type: "button", id: "submit" }, "Submit");
  const curve = h("input", {
    id: "curve-file",
    type: "file",
    accept: ".csv,.json,text/csv,application/json",
  });
  const simulate = h("button", { type: "button", id: "simulate" }, "Simulate callbacks");
  const simulation = h("div", { class: "simulation", "aria-live": "polite" });
  root.replaceChildren(
    h("h1", {}, "Submit a job"),
    h("label", { for: "spec" }, "Job spec (JSON)"),
    h("p", { id: "spec-help", class: "help" }, "Paste a spec, or choose a file: ", specFile),
    spec,
    h("div", { class: "actions" }, check, submit),
    problems,
    h("h2", {}, "Dry run of the callbacks"),
    h(
      "p",
      { class: "help" },
      "A recorded curve: CSV with one row per epoch and a column per metric (loss, val_loss, …; an `epoch` column is ignored), or the epochs JSON of POST /v1/callbacks/simulate. ",
      h("label", { for: "curve-file" }, "Curve file "),
      curve,
    ),
    simulate,
    simulation,
  );

  const show = (items: Issue[], verdict: string) => {
    problems.replaceChildren(
      h("li", { class: items.length ? "bad" : "good" }, verdict),
      ...items.map((issue) =>
        h("li", { "data-path": issue.path }, h("code", {}, issue.path || "/"), ` ${issue.message}`),
      ),
    );
  };
  const parsed = (): unknown => {
    try {
      return JSON.parse(spec.value);
    } catch (error) {
      show([{ path: "", message: (error as Error).message }], "The spec is not JSON.");
      return undefined;
    }
  };
  const explain = (error: unknown) => {
    if (error instanceof ApiError) show(error.details, error.message);
    else show([], (error as Error).message);
  };

  specFile.addEventListener("change", async () => {
    const file = specFile.files?.[0];
    if (file) spec.value = await file.text();
  });
  check.addEventListener("click", async () => {
    const body = parsed();
    if (body === undefined) return;
    try {
      await api().validateJob(body);
      show([], "No problems: the spec is valid.");
    } catch (error) {
      explain(error);
    }
  });
  submit.addEventListener("click", async () => {
    const body = parsed();
    if (body === undefined) return;
    try {
      await api().validateJob(body);
      const job = await api().submitJob(body as never);
      location.hash = `#/jobs/${job.id}`;
    } catch (error) {
      explain(error);
    }
  });
  simulate.addEventListener("click", async () => {
    const body = parsed() as { callbacks?: unknown; compile?: { optimizer?: unknown } } | undefined;
    const file = curve.files?.[0];
    if (body === undefined) return;
    if (!file) {
      simulation.replaceChildren(h("p", {}, "Choose a curve file first."));
      return;
    }
    try {
      const optimizer = body.compile?.optimizer;
      const input = {
        callbacks: body.callbacks ?? [],
        ...(optimizer ? { optimizer: typeof optimizer === "string" ? { name: optimizer } : optimizer } : {}),
        epochs: readCurve(await file.text()),
      } as SimulationInput;
      simulation.replaceChildren(report(await api().simulate(input)));
    } catch (error) {
      simulation.replaceChildren(
        h("p", {}, (error as Error).message),
        h(
          "ul",
          {},
          ...(error instanceof ApiError ? error.details : []).map((d) =>
            h("li", {}, `${d.path} ${d.message}`),
          ),
        ),
      );
    }
  });
  return () => {};
}

/** Epoch logs from a CSV (header of metric names) or the simulate endpoint's JSON epochs. */
function readCurve(text: string): SimulationInput["epochs"] {
  const trimmed = text.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    const json = JSON.parse(trimmed);
    return Array.isArray(json) ? json : json.epochs;
  }
  const [header, ...lines] = trimmed.split(/\r?\n/);
  const names = header.split(",").map((name) => name.trim());
  return lines
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const cells = line.split(",");
      const logs: Record<string, number> = {};
      names.forEach((name, i) => {
        if (name !== "epoch" && cells[i] !== undefined && cells[i].trim() !== "")
          logs[name] = Number(cells[i]);
      });
      return { logs };
    });
}

function report(result: SimulationResult): HTMLElement {
  return h(
    "div",
    {},
    h(
      "p",
      {},
      `Final learning rate ${formatNumber(result.final_learning_rate)}; ` +
        (result.stopped_epoch === null
          ? "training runs to the end."
          : `training stops at epoch ${result.stopped_epoch + 1}.`),
    ),
    h(
      "ol",
      { class: "decisions" },
      result.events.map((event) =>
        h(
          "li",
          {},
          `epoch ${event.epoch + 1}: ${event.callback} ${event.action} ${JSON.stringify(event.details)}`,
        ),
      ),
    ),
    result.warnings.length > 0 &&
      h(
        "ul",
        { class: "warnings" },
        result.warnings.map((w) => h("li", {}, w)),
      ),
  );
}
