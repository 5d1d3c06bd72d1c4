import seedrandom from "seedrandom";

/** The generator's position (ARC4's i, j and S), JSON-safe: part of a resume snapshot. */
export type RandomState = seedrandom.State;

/**
 * Keras's `keras.utils.set_random_seed` for a process that trains one job. tfjs draws every unseeded random
 * number it needs — weight initializers, fit's shuffle, dropout masks — from `Math.random` (directly or to
 * seed its own generators), so replacing it with a seeded generator makes the job reproducible, and saving
 * the generator's position with the weights makes a resumed run draw what an uninterrupted one would have.
 * Only for a process of its own (the trainer): it changes `Math.random` for everything in the process.
 */
export class SeededRandom {
  private generator: seedrandom.prng;

  constructor(seed: number, state?: RandomState) {
    this.generator = seedrandom(String(seed), { state: state ?? true });
  }

  install(): void {
    Math.random = () => this.generator();
  }

  state(): RandomState {
    return this.generator.state();
  }

  /** A copy that draws what this one will draw next, without moving this one. */
  fork(): () => number {
    return seedrandom("", { state: this.state() });
  }
}
