import { h } from "../dom";
import type { Level, XAxis } from "../series";

export interface ViewSettings {
  level: Level;
  axis: XAxis;
  smoothing: number;
  log: boolean;
}

/** Largest EMA weight, TensorBoard's slider maximum. */
const MAX_SMOOTHING = 0.999;

/** The chart controls: level (epoch/batch), x axis, EMA smoothing, learning-rate log scale. */
export function viewControls(
  show: { level?: boolean; log?: boolean },
  onChange: () => void,
): { element: HTMLElement; value: () => ViewSettings } {
  const select = (id: string, options: [string, string][]) =>
    h(
      "select",
      { id, onchange: onChange },
      options.map(([value, text]) => h("option", { value }, text)),
    );
  const level = select("level", [
    ["epoch", "per epoch"],
    ["batch", "per batch"],
  ]);
  const axis = select("x-axis", [
    ["epoch", "epoch"],
    ["step", "step"],
    ["time", "wall time"],
  ]);
  const smoothing = h("input", {
    id: "smoothing",
    type: "range",
    min: 0,
    max: MAX_SMOOTHING,
    step: 0.001,
    value: 0.6,
    oninput: () => {
      shown.textContent = smoothing.value;
      onChange();
    },
  });
  const shown = h("output", { for: "smoothing" }, smoothing.value);
  const log = h("input", { id: "lr-log", type: "checkbox", onchange: onChange });
  const element = h(
    "div",
    { class: "controls" },
    show.level && h("label", {}, "Curves ", level),
    h("label", {}, "X axis ", axis),
    h("label", {}, "Smoothing ", smoothing, " ", shown),
    show.log && h("label", {}, log, " learning rate on a log scale"),
  );
  return {
    element,
    value: () => ({
      level: level.value as Level,
      axis: axis.value as XAxis,
      smoothing: Number(smoothing.value),
      log: log.checked,
    }),
  };
}
