import type { Schedule } from "@plateau/callbacks/schedules";
import type { NamedTensorMap, Optimizer, Tensor, Variable } from "@tensorflow/tfjs";
import type { Tf } from "./backend";
import { applyWeightDecay, type Clipping, clipGradients } from "./clipping";
import { SpecError } from "./spec-error";

/** Keras 3's words when a schedule-driven rate is set (BaseOptimizer.learning_rate's setter). */
export const SCHEDULE_NOT_SETTABLE =
  "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` constructor argument, hence its learning rate is not settable. If you need the learning rate to be settable, you should instantiate the optimizer with a float `learning_rate` argument.";

type NamedTensor = { name: string; tensor: Tensor };

/**
 * What setting a schedule-driven rate throws: Keras's TypeError, as the job's own mistake (a SpecError
 * fails the job once, unretried). Submission refuses the callbacks that would do it; a Webhook's reply
 * can still ask for it.
 */
function scheduleNotSettable(): SpecError {
  return new SpecError([
    {
      path: "/compile/optimizer/learning_rate",
      message: `is a schedule: TypeError: ${SCHEDULE_NOT_SETTABLE}`,
    },
  ]);
}

/** Keras's arguments common to every optimizer (keras/src/optimizers/base_optimizer.py). */
export interface KerasArgs extends Clipping {
  learningRate: number | Schedule;
  weight_decay: number | null;
}

/** An optimizer variable kept per trained variable, named as tfjs names its slots. */
interface Slot {
  name: string;
  variable: Variable;
}

/** One step's view of a variable, for an update rule. */
export interface StepContext {
  variable: Variable;
  gradient: Tensor;
  /** This variable's slots, in the order of the rule's `slots`. */
  slots: Variable[];
  /** The rate of this step (the schedule at the step count before the step). */
  lr: number;
  /** Keras's `iterations + 1`. */
  localStep: number;
  /** The rule's scalar state, by name. */
  state: Record<string, Variable>;
}

/** A Keras optimizer's own part: its slots, its scalar state and its `update_step`. */
export interface UpdateRule {
  /** What tfjs serializes the optimizer as (a class tfjs loads back only when its state has this layout). */
  className: string;
  config: Record<string, number | boolean>;
  /** Slot names, one variable of each per trained variable, zero-initialized unless `initial` says. */
  slots: readonly string[];
  initial?: number;
  /** Scalar state beyond the step count, with initial values (Nadam's u_product). */
  state?: Readonly<Record<string, number>>;
  /** Runs once per step before the per-variable updates (Keras's `_backend_update_step`). */
  beforeStep?(tf: Tf, context: Pick<StepContext, "localStep" | "state">): void;
  update(tf: Tf, context: StepContext): void;
}

function gradientList(gradients: NamedTensorMap | NamedTensor[]): NamedTensor[] {
  return Array.isArray(gradients)
    ? gradients
    : Object.entries(gradients).map(([name, tensor]) => ({ name, tensor }));
}

/** Whether any of Keras's common arguments is in use (an optimizer without them may serialize as tfjs's). */
export function usesKerasArgs(args: KerasArgs): boolean {
  return (
    typeof args.learningRate !== "number" ||
    Boolean(args.weight_decay) ||
    Boolean(args.clipnorm) ||
    Boolean(args.clipvalue) ||
    Boolean(args.global_clipnorm)
  );
}

/**
 * An optimizer that runs a Keras `update_step` with Keras's base-optimizer pipeline, and whose
 * getWeights/setWeights carry all of its state — step count, every slot, scalar state — so a training
 * resumed from them continues exactly as the one that saved them.
 */
export function kerasOptimizer(tf: Tf, rule: UpdateRule, args: KerasArgs): Optimizer {
  class KerasOptimizer extends tf.Optimizer {
    static className = rule.className;
    /** Per slot kind, per trained variable (by its index in the gradients, as tfjs's optimizers do). */
    private slots: Slot[][] = rule.slots.map(() => []);
    private state: Record<string, Variable> = Object.fromEntries(
      Object.entries(rule.state ?? {}).map(([name, value]) => [name, tf.scalar(value).variable(false)]),
    );

    private rate = args.learningRate;

    /** The rate of the next step, as Keras's `optimizer.learning_rate`: a schedule is read at the step count. */
    get learningRate(): number {
      return typeof this.rate === "number" ? this.rate : this.rate(this.iterations);
    }

    /**
     * What callbacks set (ReduceLROnPlateau, …); Keras raises TypeError for a schedule-driven rate. Setting
     * the rate the schedule already gives changes nothing and is allowed: a snapshot's restore does it
     * (libs/training/src/run.ts) after setWeights has put the step count back.
     */
    set learningRate(value: number) {
      if (typeof this.rate === "number") this.rate = value;
      else if (Math.fround(value) !== this.learningRate) throw scheduleNotSettable();
    }

    override applyGradients(gradients: NamedTensorMap | NamedTensor[]): void {
      // Slots follow a variable's position among all gradients; one without a gradient is left out of
      // clipping, decay and the update, as Keras filters empty gradients.
      const list = gradientList(gradients)
        .map((item, index) => ({ ...item, index }))
        .filter((item) => item.tensor != null);
      const lr = Math.fround(this.learningRate);
      const localStep = this.iterations + 1;
      tf.tidy(() => {
        const clipped = clipGradients(
          tf,
          list.map((item) => item.tensor),
          args,
        );
        const variables = list.map((item) => tf.engine().registeredVariables[item.name]);
        if (args.weight_decay) applyWeightDecay(tf, variables, args.weight_decay, lr);
        rule.beforeStep?.(tf, { localStep, state: this.state });
        variables.forEach((variable, at) => {
          const i = list[at].index;
          const slots = rule.slots.map((name, kind) => {
            this.slots[kind][i] ??= {
              name: `${variable.name}/${name}`,
              variable: tf.tidy(() =>
                tf.fill(variable.shape, rule.initial ?? 0, variable.dtype).variable(false),
              ),
            };
            return this.slots[kind][i].variable;
          });
          rule.update(tf, { variable, gradient: clipped[at], slots, lr, localStep, state: this.state });
        });
      });
      this.incrementIterations();
    }

    override async getWeights(): Promise<NamedTensor[]> {
      const slots = this.slots.flat().map((slot) => ({ name: slot.name, tensor: slot.variable }));
      const state = Object.entries(this.state).map(([name, tensor]) => ({ name, tensor }));
      return [await this.saveIterations(), ...slots, ...state];
    }

    override async setWeights(weights: NamedTensor[]): Promise<void> {
      const rest = await this.extractIterations(weights);
      const stateCount = Object.keys(this.state).length;
      const slotWeights = rest.slice(0, rest.length - stateCount);
      const perKind = slotWeights.length / rule.slots.length;
      tf.dispose(this.slots.flat().map((slot) => slot.variable));
      this.slots = rule.slots.map((_, kind) =>
        slotWeights
          .slice(kind * perKind, (kind + 1) * perKind)
          .map((weight) => ({ name: weight.name, variable: weight.tensor.variable(false) })),
      );
      rest.slice(rest.length - stateCount).forEach((weight, i) => {
        Object.values(this.state)[i].assign(weight.tensor);
      });
    }

    override dispose(): void {
      tf.dispose([...this.slots.flat().map((slot) => slot.variable), ...Object.values(this.state)]);
    }

    override getConfig() {
      return { learningRate: this.learningRate, ...rule.config };
    }
  }
  return new KerasOptimizer();
}
