import * as tf from '@tensorflow/tfjs-core';
import type { Variable } from '@tensorflow/tfjs-core';
import { assertGradientsRegistered } from './gradient-check';
import { deriveSeed, mulberry32 } from './random';

/** How a parameter is initialised. */
export type Init =
  | { kind: 'glorotUniform' }
  | { kind: 'normal'; std: number }
  | { kind: 'zeros' }
  | { kind: 'ones' };

/** A named weight as plain data: `data` is row-major float32 of `shape`. */
export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

function fill(shape: readonly number[], init: Init, seed: number): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  switch (init.kind) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'glorotUniform': {
      const fanIn = shape.length >= 2 ? (shape[shape.length - 2] ?? 1) : (shape[0] ?? 1);
      const fanOut = shape.length >= 2 ? (shape[shape.length - 1] ?? 1) : (shape[0] ?? 1);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const rand = mulberry32(seed);
      for (let i = 0; i < size; i++) out[i] = (2 * rand() - 1) * limit;
      return out;
    }
    case 'normal': {
      const rand = mulberry32(seed);
      for (let i = 0; i < size; i += 2) {
        const u1 = Math.max(rand(), 1e-12);
        const u2 = rand();
        const r = Math.sqrt(-2 * Math.log(u1)) * init.std;
        out[i] = r * Math.cos(2 * Math.PI * u2);
        if (i + 1 < size) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
      }
      return out;
    }
  }
}

/**
 * Owns a model's trainable variables under stable logical names. Initial values are generated in
 * JavaScript from `deriveSeed(seed, name)`, so they do not depend on creation order or backend.
 * (tfjs variable names are global; the logical names here are kept separately to allow several
 * models with the same architecture in one process.)
 */
export class ParamStore {
  private readonly vars = new Map<string, Variable>();
  private readonly shapes = new Map<string, number[]>();

  constructor(readonly seed: number) {}

  /** Creates a trainable float32 variable `name` of `shape`. Throws if the name is taken. */
  create(name: string, shape: number[], init: Init): Variable {
    if (this.vars.has(name)) throw new Error(`parameter '${name}' already exists`);
    for (const s of shape) {
      if (!Number.isInteger(s) || s <= 0) {
        throw new RangeError(`parameter '${name}': invalid shape [${shape.join(',')}]`);
      }
    }
    const data = fill(shape, init, deriveSeed(this.seed, name));
    const initial = tf.tensor(data, shape, 'float32');
    const v = tf.variable(initial, true);
    initial.dispose(); // the variable keeps its own reference to the data
    this.vars.set(name, v);
    this.shapes.set(name, [...shape]);
    return v;
  }

  /** The variable called `name`. */
  get(name: string): Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`unknown parameter '${name}'`);
    return v;
  }

  /** Logical names, in creation order. */
  names(): string[] {
    return [...this.vars.keys()];
  }

  /**
   * All variables, in creation order, for training. Throws a helpful error if tfjs's gradients are
   * not registered (only `@tensorflow/tfjs-core` loaded: import `@tensorflow/tfjs` or tfjs-node);
   * inference never calls this.
   */
  variables(): Variable[] {
    assertGradientsRegistered('ParamStore.variables() (training)');
    return [...this.vars.values()];
  }

  /** Total number of scalar parameters. */
  size(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /** Copies every weight out as plain float32 data (reads the backend synchronously). */
  getWeights(): NamedWeight[] {
    return [...this.vars.entries()].map(([name, v]) => ({
      name,
      shape: [...v.shape],
      data: Float32Array.from(v.dataSync() as Float32Array),
    }));
  }

  /**
   * Assigns weights by name. Every parameter must be given exactly once with the same shape;
   * errors name the weight and both shapes.
   */
  setWeights(weights: readonly NamedWeight[]): void {
    const seen = new Set<string>();
    for (const w of weights) {
      const expected = this.shapes.get(w.name);
      if (!expected) {
        throw new Error(
          `weight '${w.name}' is not a parameter of this model (expected one of: ${this.names().join(', ')})`,
        );
      }
      if (seen.has(w.name)) throw new Error(`weight '${w.name}' is given twice`);
      seen.add(w.name);
      const same = expected.length === w.shape.length && expected.every((s, i) => s === w.shape[i]);
      if (!same) {
        throw new Error(
          `weight '${w.name}' has shape [${w.shape.join(',')}] but the model built from the config expects [${expected.join(',')}]`,
        );
      }
      const size = expected.reduce((a, b) => a * b, 1);
      if (w.data.length !== size) {
        throw new Error(
          `weight '${w.name}' has ${w.data.length} values but shape [${expected.join(',')}] needs ${size}`,
        );
      }
    }
    const missing = this.names().filter((n) => !seen.has(n));
    if (missing.length > 0) throw new Error(`missing weights: ${missing.join(', ')}`);
    for (const w of weights) {
      const v = this.get(w.name);
      tf.tidy(() => v.assign(tf.tensor(w.data, w.shape, 'float32')));
    }
  }

  /** Disposes every variable. */
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.shapes.clear();
  }
}
