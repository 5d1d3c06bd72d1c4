/**
 * Keras 3's `update_step` of every optimizer Plateau offers (keras/src/optimizers/*.py) in tfjs ops,
 * operation for operation. Scalars (β powers, rates) are float32 as Keras casts them. tfjs's own differ:
 * its Adam adds ε to the bias-corrected √v̂, its centered RMSprop subtracts ε (NaN once v − m² < ε), its
 * Adagrad fixes ε at 1e-7, its Adadelta divides by the accumulator from before the step, and its Adamax's
 * setWeights throws (a resumed job needs it: see keras-optimizer.ts).
 */
import type { UpdateRule } from "./keras-optimizer";

const f32 = Math.fround;
type Params = Record<string, number | boolean | null>;

/** β^step at float32, as Keras's `ops.power(cast(beta), cast(iterations + 1))`. */
const power = (beta: number, step: number) => f32(f32(beta) ** step);

export function sgdRule(p: Params, plain: boolean): UpdateRule {
  const momentum = p.momentum as number;
  return {
    // tfjs's SGD holds no state beyond the step count, so it loads back a momentum-free SGD.
    className: plain && momentum === 0 ? "SGD" : "PlateauSGD",
    config: plain && momentum === 0 ? {} : { momentum, nesterov: p.nesterov as boolean },
    slots: momentum === 0 ? [] : ["momentum"],
    update(tf, { variable, gradient, slots: [m], lr }) {
      if (!m) {
        variable.assign(tf.sub(variable, tf.mul(gradient, lr)));
        return;
      }
      m.assign(tf.sub(tf.mul(m, momentum), tf.mul(gradient, lr)));
      if (p.nesterov) variable.assign(tf.add(variable, tf.sub(tf.mul(m, momentum), tf.mul(gradient, lr))));
      else variable.assign(tf.add(variable, m));
    },
  };
}

export function adamRule(p: Params, plain: boolean, keras: "Adam" | "AdamW"): UpdateRule {
  const [beta1, beta2, epsilon, amsgrad] = [
    p.beta_1 as number,
    p.beta_2 as number,
    p.epsilon as number,
    p.amsgrad,
  ];
  // tfjs's Adam has this config and the same [m…, v…] slots: a plain Adam loads back as tfjs's.
  const asTfjs = plain && keras === "Adam" && !amsgrad;
  return {
    className: asTfjs ? "Adam" : `Plateau${keras}`,
    config: { beta1, beta2, epsilon, ...(asTfjs ? {} : { amsgrad: Boolean(amsgrad) }) },
    slots: amsgrad ? ["m", "v", "vhat"] : ["m", "v"],
    update(tf, { variable, gradient, slots: [m, v, vHat], lr, localStep }) {
      const alpha = f32(
        f32(lr * f32(Math.sqrt(f32(1 - power(beta2, localStep))))) / f32(1 - power(beta1, localStep)),
      );
      m.assign(tf.add(m, tf.mul(tf.sub(gradient, m), 1 - beta1)));
      v.assign(tf.add(v, tf.mul(tf.sub(tf.square(gradient), v), 1 - beta2)));
      let velocity = v as typeof v | ReturnType<typeof tf.maximum>;
      if (vHat) {
        vHat.assign(tf.maximum(vHat, v));
        velocity = vHat;
      }
      variable.assign(tf.sub(variable, tf.div(tf.mul(m, alpha), tf.add(tf.sqrt(velocity), epsilon))));
    },
  };
}

export function adamaxRule(p: Params): UpdateRule {
  const [beta1, beta2, epsilon] = [p.beta_1 as number, p.beta_2 as number, p.epsilon as number];
  return {
    className: "PlateauAdamax",
    config: { beta1, beta2, epsilon },
    slots: ["m", "u"],
    update(tf, { variable, gradient, slots: [m, u], lr, localStep }) {
      m.assign(tf.add(m, tf.mul(tf.sub(gradient, m), 1 - beta1)));
      u.assign(tf.maximum(tf.mul(u, beta2), tf.abs(gradient)));
      const denominator = tf.mul(f32(1 - power(beta1, localStep)), tf.add(u, epsilon));
      variable.assign(tf.sub(variable, tf.div(tf.mul(m, lr), denominator)));
    },
  };
}

export function nadamRule(p: Params): UpdateRule {
  const [beta1, beta2, epsilon] = [p.beta_1 as number, p.beta_2 as number, p.epsilon as number];
  // Keras's momentum schedule: μ_t = β₁(1 − ½·0.96^t).
  const mu = (step: number) => f32(f32(beta1) * f32(1 - f32(0.5 * power(0.96, step))));
  return {
    className: "PlateauNadam",
    config: { beta1, beta2, epsilon },
    slots: ["m", "v"],
    state: { u_product: 1 },
    beforeStep(tf, { localStep, state }) {
      state.u_product.assign(
        tf.mul(tf.mul(state.u_product, f32(beta1)), f32(1 - f32(0.5 * power(0.96, localStep)))),
      );
    },
    update(tf, { variable, gradient, slots: [m, v], lr, localStep, state }) {
      const uT = mu(localStep);
      const uNext = mu(localStep + 1);
      const uProduct = state.u_product;
      const uProductNext = tf.mul(uProduct, uNext);
      m.assign(tf.add(m, tf.mul(tf.sub(gradient, m), f32(1 - f32(beta1)))));
      v.assign(tf.add(v, tf.mul(tf.sub(tf.square(gradient), v), f32(1 - f32(beta2)))));
      const mHat = tf.add(
        tf.div(tf.mul(uNext, m), tf.sub(1, uProductNext)),
        tf.div(tf.mul(f32(1 - uT), gradient), tf.sub(1, uProduct)),
      );
      const vHat = tf.div(v, f32(1 - power(beta2, localStep)));
      variable.assign(tf.sub(variable, tf.div(tf.mul(mHat, lr), tf.add(tf.sqrt(vHat), epsilon))));
    },
  };
}

export function lionRule(p: Params): UpdateRule {
  const [beta1, beta2] = [p.beta_1 as number, p.beta_2 as number];
  return {
    className: "PlateauLion",
    config: { beta1, beta2 },
    slots: ["m"],
    update(tf, { variable, gradient, slots: [m], lr }) {
      // Keras casts β to the variable's dtype before 1 − β (Adam subtracts the Python float).
      const direction = tf.sign(tf.add(tf.mul(m, beta1), tf.mul(gradient, f32(1 - f32(beta1)))));
      variable.assign(tf.sub(variable, tf.mul(lr, direction)));
      m.assign(tf.add(tf.mul(m, beta2), tf.mul(gradient, f32(1 - f32(beta2)))));
    },
  };
}

export function rmspropRule(p: Params, plain: boolean): UpdateRule {
  const [rho, momentum, epsilon, centered] = [
    p.rho as number,
    p.momentum as number,
    p.epsilon as number,
    p.centered,
  ];
  // tfjs's RMSProp keeps the same [velocity…, momentum…] for a non-centered RMSprop with momentum.
  const asTfjs = plain && !centered && momentum > 0;
  return {
    className: asTfjs ? "RMSProp" : "PlateauRMSprop",
    config: { decay: rho, momentum, epsilon, centered: Boolean(centered) },
    slots: ["rms", ...(momentum > 0 ? ["momentum"] : []), ...(centered ? ["mg"] : [])],
    update(tf, { variable, gradient, slots, lr }) {
      const [velocity, moment, average] = momentum > 0 ? slots : [slots[0], undefined, slots[1]];
      velocity.assign(tf.add(tf.mul(rho, velocity), tf.mul(1 - rho, tf.square(gradient))));
      let denominator = tf.add(velocity, epsilon);
      if (average) {
        average.assign(tf.add(tf.mul(rho, average), tf.mul(1 - rho, gradient)));
        denominator = tf.add(tf.sub(velocity, tf.square(average)), epsilon);
      }
      const increment = tf.div(tf.mul(lr, gradient), tf.sqrt(denominator));
      if (moment) {
        moment.assign(tf.add(tf.mul(momentum, moment), increment));
        variable.assign(tf.sub(variable, moment));
      } else variable.assign(tf.sub(variable, increment));
    },
  };
}

export function adagradRule(p: Params): UpdateRule {
  const epsilon = p.epsilon as number;
  return {
    className: "PlateauAdagrad",
    config: { initialAccumulatorValue: p.initial_accumulator_value as number, epsilon },
    slots: ["accumulator"],
    initial: p.initial_accumulator_value as number,
    update(tf, { variable, gradient, slots: [accumulator], lr }) {
      accumulator.assign(tf.add(accumulator, tf.square(gradient)));
      variable.assign(tf.sub(variable, tf.div(tf.mul(lr, gradient), tf.sqrt(tf.add(accumulator, epsilon)))));
    },
  };
}

export function adadeltaRule(p: Params): UpdateRule {
  const [rho, epsilon] = [p.rho as number, p.epsilon as number];
  return {
    className: "PlateauAdadelta",
    config: { rho, epsilon },
    slots: ["accum_grad", "accum_var"],
    update(tf, { variable, gradient, slots: [accumulatedGrad, accumulatedDelta], lr }) {
      const rms = (x: typeof gradient) => tf.sqrt(tf.add(x, epsilon));
      accumulatedGrad.assign(tf.add(tf.mul(rho, accumulatedGrad), tf.mul(1 - rho, tf.square(gradient))));
      const delta = tf.neg(tf.div(tf.mul(rms(accumulatedDelta), gradient), rms(accumulatedGrad)));
      accumulatedDelta.assign(tf.add(tf.mul(rho, accumulatedDelta), tf.mul(1 - rho, tf.square(delta))));
      variable.assign(tf.add(variable, tf.mul(lr, delta)));
    },
  };
}
