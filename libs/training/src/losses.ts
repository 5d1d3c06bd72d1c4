import {
  type Issue,
  isLossClassName,
  isLossName,
  LOSS_CLASS_DEFAULTS,
  LOSS_CLASS_NAMES,
  LOSS_CLASS_ONLY_KEYS,
  LOSS_CONFIG_ONLY_VALUE,
  LOSS_NAMES,
  type LossClassName,
} from "@plateau/contract";
import type { Tensor } from "@tensorflow/tfjs";
import type { Tf } from "./backend";
import { isObject } from "./keras-config";
import { serializedWrapperIssues } from "./keras-serialized";

/**
 * Keras's losses that tfjs lacks or computes differently, as Keras's formulas in tfjs ops (no device
 * sync): keras/src/losses/losses.py over keras/src/backend/tensorflow/nn.py. Each returns the loss per
 * sample; tfjs averages it over the batch as Keras's default reduction, "sum_over_batch_size".
 */

export type LossFn = (yTrue: Tensor, yPred: Tensor) => Tensor;
/** The parameters of a loss class, Keras's defaults filled in. */
export type LossParams = Record<string, number | boolean>;

/** Keras's backend.epsilon(), the clip applied to probabilities. */
const EPSILON = 1e-7;

const classes = (yPred: Tensor) => yPred.shape[yPred.shape.length - 1] as number;
const clip = (tf: Tf, p: Tensor) => tf.clipByValue(p, EPSILON, 1 - EPSILON);

/** Integer labels (with or without a trailing axis of 1) against probabilities or logits on the last axis. */
function sparseCategoricalCrossentropy(tf: Tf, p: LossParams): LossFn {
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const n = classes(yPred);
      const logits = p.from_logits ? yPred : tf.log(clip(tf, yPred));
      const labels = tf.cast(tf.reshape(yTrue, [-1]), "int32");
      const oneHot = tf.reshape(tf.oneHot(labels, n), yPred.shape);
      return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits, -1)), -1));
    });
}

/** Label smoothing spreads `label_smoothing` of each label over the classes (over 2 for binary). */
function smooth(tf: Tf, yTrue: Tensor, amount: number, over: number): Tensor {
  return amount > 0 ? tf.add(tf.mul(yTrue, 1 - amount), amount / over) : yTrue;
}

function categoricalCrossentropy(tf: Tf, p: LossParams): LossFn {
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const target = smooth(tf, yTrue, p.label_smoothing as number, classes(yPred));
      if (p.from_logits) return tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(yPred, -1)), -1));
      const probabilities = clip(tf, tf.div(yPred, tf.sum(yPred, -1, true)));
      return tf.neg(tf.sum(tf.mul(target, tf.log(probabilities)), -1));
    });
}

function binaryCrossentropy(tf: Tf, p: LossParams): LossFn {
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const target = smooth(tf, yTrue, p.label_smoothing as number, 2);
      if (p.from_logits) {
        // TensorFlow's sigmoid_cross_entropy_with_logits: max(x, 0) - x·z + log(1 + exp(-|x|)).
        const x = yPred;
        const perElement = tf.add(tf.sub(tf.relu(x), tf.mul(x, target)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
        return tf.mean(perElement, -1);
      }
      const o = clip(tf, yPred);
      const perElement = tf.add(tf.mul(target, tf.log(o)), tf.mul(tf.sub(1, target), tf.log(tf.sub(1, o))));
      return tf.neg(tf.mean(perElement, -1));
    });
}

/** 0.5·e² where |e| ≤ delta, else delta·|e| − 0.5·delta², averaged over the last axis. */
function huber(tf: Tf, p: LossParams): LossFn {
  const delta = p.delta as number;
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const error = tf.sub(yPred, yTrue);
      const abs = tf.abs(error);
      const quadratic = tf.mul(0.5, tf.square(error));
      const linear = tf.sub(tf.mul(delta, abs), 0.5 * delta * delta);
      return tf.mean(tf.where(tf.lessEqual(abs, delta), quadratic, linear), -1);
    });
}

const BUILDERS: Readonly<Record<LossClassName, (tf: Tf, p: LossParams) => LossFn>> = {
  SparseCategoricalCrossentropy: sparseCategoricalCrossentropy,
  CategoricalCrossentropy: categoricalCrossentropy,
  BinaryCrossentropy: binaryCrossentropy,
  Huber: huber,
};

/**
 * The tfjs loss each class is compiled as before its function replaces tfjs's: tfjs picks the target shape
 * (integer labels for sparse) and what "accuracy" means by the identity of the compiled loss.
 */
export const TFJS_TWINS: Readonly<Partial<Record<LossClassName, string>>> = {
  SparseCategoricalCrossentropy: "sparseCategoricalCrossentropy",
  CategoricalCrossentropy: "categoricalCrossentropy",
  BinaryCrossentropy: "binaryCrossentropy",
};

/** Loss names Plateau computes itself (rather than with tfjs's loss of that name), as their classes. */
const NAMED_CLASSES: Readonly<Record<string, LossClassName>> = { huber: "Huber" };

function parseObject(spec: Record<string, unknown>, path: string, issues: Issue[]) {
  const name = spec.class_name;
  if (!isLossClassName(name)) {
    issues.push({
      path: `${path}/class_name`,
      message: `unsupported loss class ${JSON.stringify(name)}; supported: ${LOSS_CLASS_NAMES.join(", ")}`,
    });
    return null;
  }
  issues.push(...serializedWrapperIssues(spec, path, "keras.losses", "a loss"));
  const config = spec.config ?? {};
  if (!isObject(config)) {
    issues.push({ path: `${path}/config`, message: "must be an object" });
    return null;
  }
  const defaults: Readonly<Record<string, number | boolean>> = LOSS_CLASS_DEFAULTS[name];
  const neutral: readonly string[] = LOSS_CLASS_ONLY_KEYS[name];
  const params: LossParams = { ...defaults };
  for (const [key, value] of Object.entries(config)) {
    const at = `${path}/config/${key}`;
    if (key === "name") {
      if (typeof value !== "string") issues.push({ path: at, message: "must be a string" });
    } else if (neutral.includes(key)) {
      const allowed: readonly unknown[] = LOSS_CONFIG_ONLY_VALUE[key as keyof typeof LOSS_CONFIG_ONLY_VALUE];
      if (!allowed.includes(value)) {
        issues.push({
          path: at,
          message: `${key} = ${JSON.stringify(value)} is not supported; allowed: ${allowed.map((v) => JSON.stringify(v)).join(", ")}`,
        });
      }
    } else if (!(key in defaults)) {
      const known = ["name", ...neutral, ...Object.keys(defaults)];
      issues.push({
        path: at,
        message: `unknown parameter "${key}" for ${name}; supported: ${known.join(", ")}`,
      });
    } else if (typeof value !== typeof defaults[key]) {
      issues.push({ path: at, message: `must be a ${typeof defaults[key]}` });
    } else if (typeof value === "number" && (!Number.isFinite(value) || value < 0)) {
      issues.push({ path: at, message: "must be a finite number ≥ 0" });
    } else if (key === "label_smoothing" && (value as number) > 1) {
      issues.push({ path: at, message: "must be between 0 and 1" });
    } else {
      params[key] = value as number | boolean;
    }
  }
  return { name, params };
}

/**
 * A compile spec's loss: a Keras name, or a Keras-serialized loss object → the class Plateau computes
 * (with its parameters) or the name tfjs computes; null with issues when it is neither.
 */
export function parseLoss(
  spec: unknown,
  path: string,
  issues: Issue[],
): { name: LossClassName; params: LossParams } | { tfjsName: string } | null {
  if (typeof spec === "string") {
    if (!isLossName(spec)) {
      issues.push({
        path,
        message: `unsupported loss ${JSON.stringify(spec)}; supported: ${LOSS_NAMES.join(", ")}, or {"class_name": ${LOSS_CLASS_NAMES.join(" | ")}, "config": {...}}`,
      });
      return null;
    }
    const named = NAMED_CLASSES[spec];
    return named ? { name: named, params: { ...LOSS_CLASS_DEFAULTS[named] } } : { tfjsName: spec };
  }
  if (!isObject(spec)) {
    issues.push({ path, message: 'must be a Keras loss name or {"class_name": ..., "config": {...}}' });
    return null;
  }
  return parseObject(spec, path, issues);
}

/** The loss function of a Keras loss class with its parameters. */
export function buildLossClass(tf: Tf, name: LossClassName, params: LossParams): LossFn {
  return BUILDERS[name](tf, params);
}
