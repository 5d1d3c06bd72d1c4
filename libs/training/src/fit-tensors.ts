/**
 * What Keras raises at `fit` about data the spec could not show at submission (files: CSV, JSONL, .npy,
 * .npz), checked by the worker on the loaded tensors against the built model, before training: each
 * input's sample shape, sparse_categorical_crossentropy labels against the output's units, and
 * binary_crossentropy labels outside [0, 1]. tfjs would otherwise train on an out-of-range sparse label as
 * an all-zero one-hot row (loss 0) where Keras raises. The SpecError is the job's own mistake: not retried.
 */
import type { CompileSpec, Issue } from "@plateau/contract";
import type { LayersModel, NamedTensorMap, Tensor } from "@tensorflow/tfjs";
import type { Dataset } from "./data";
import { lossName } from "./fit-data";
import { throwIfIssues } from "./spec-error";

/** The first few offenders of many are enough to find the mistake. */
const SHOWN = 3;

function shapeIssues(model: LayersModel, data: Dataset, path: string): Issue[] {
  const single = typeof (data.x as Tensor).dataSync === "function" ? (data.x as Tensor) : null;
  return model.inputs.flatMap((input, i) => {
    const tensor = single ? (i === 0 ? single : undefined) : (data.x as NamedTensorMap)[model.inputNames[i]];
    if (!tensor) return [{ path, message: `has no samples for the model's input "${model.inputNames[i]}"` }];
    const expected = input.shape.slice(1);
    const found = tensor.shape.slice(1);
    const fits =
      expected.length === found.length && expected.every((size, j) => size === null || size === found[j]);
    if (fits) return [];
    const name = model.inputs.length > 1 ? ` "${model.inputNames[i]}"` : "";
    return [
      {
        path,
        message: `has samples of shape ${JSON.stringify(found)}, but the model's input${name} takes ${JSON.stringify(expected)}`,
      },
    ];
  });
}

function labelIssues(model: LayersModel, loss: string, data: Dataset, path: string): Issue[] {
  const sparse = loss === "sparse_categorical_crossentropy";
  const units = model.outputs[0]?.shape.at(-1);
  const width = data.y.shape.at(-1);
  if (
    loss === "categorical_crossentropy" &&
    data.y.shape.length > 1 &&
    typeof units === "number" &&
    width !== units
  ) {
    return [
      {
        path,
        message: `has one-hot labels of ${width} classes, but the model's output has ${units} units: categorical_crossentropy needs them equal`,
      },
    ];
  }
  if (!sparse && loss !== "binary_crossentropy") return [];
  if (sparse && typeof units !== "number") return [];
  const labels = data.y.dataSync();
  const valid = sparse
    ? (value: number) => Number.isInteger(value) && value >= 0 && value < (units as number)
    : (value: number) => value >= 0 && value <= 1;
  const perSample = labels.length / Math.max(1, data.y.shape[0]);
  const bad: Issue[] = [];
  let count = 0;
  for (let i = 0; i < labels.length; i++) {
    if (valid(labels[i])) continue;
    if (++count > SHOWN) continue;
    const row = Math.floor(i / perSample) + 1;
    bad.push({
      path,
      message: sparse
        ? `label ${labels[i]} at row ${row} is not a class index in [0, ${units}): sparse_categorical_crossentropy takes class indices below the output layer's ${units} units`
        : `label ${labels[i]} at row ${row} is outside [0, 1]: binary_crossentropy takes labels between 0 and 1`,
    });
  }
  if (count > SHOWN) bad.push({ path, message: `${count - SHOWN} more labels have the same problem` });
  return bad;
}

/** Throws a SpecError naming the data's field and rows when Keras's fit would refuse the data. */
export function checkDataFitsModel(
  model: LayersModel,
  compile: Pick<CompileSpec, "loss">,
  data: { train: Dataset; validation?: Dataset },
  path = "/data",
): void {
  const loss = lossName(compile.loss);
  const issues = [
    ...shapeIssues(model, data.train, path),
    ...labelIssues(model, loss, data.train, path),
    ...(data.validation
      ? [
          ...shapeIssues(model, data.validation, `${path}/validation`),
          ...labelIssues(model, loss, data.validation, `${path}/validation`),
        ]
      : []),
  ];
  throwIfIssues(issues);
}
