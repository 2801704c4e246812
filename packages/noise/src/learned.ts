import * as tf from '@tensorflow/tfjs-core';
import type { NoiseConfigBase, NoiseGenerator, NoiseSupport, SampleOptions } from './generator.js';
import {
  assertTraining,
  checkKeys,
  checkNumber,
  checkPosition,
  checkType,
  labelShape,
} from './generator.js';
import { dense2d, stopGradient } from './ops.js';
import { checkSeed, createPrng } from './random.js';

/** Output activation of the learned generator: the range of ε. */
export type OutputActivation = 'sigmoid' | 'identity' | 'tanh';

/** Constructor options of {@link LearnedNoiseGenerator}. */
export interface LearnedNoiseGeneratorOptions {
  /** Integer in [0, 2^32): seeds the weight init and the latent z. Required. */
  seed: number;
  /** Dimension d_z of the latent z ~ N(0, I) per candidate (integer >= 0). Default 16. */
  latentDim?: number;
  /** Hidden width of the 2-layer MLP (integer >= 1). Default 128. */
  hiddenUnits?: number;
  /** Width c of the optional context features (integer >= 0; 0 = no context). Default 0. */
  contextDim?: number;
  /**
   * Output activation: `'sigmoid'` ε in (0, 1) (pairs with Beta warm-up; default, provisional),
   * `'tanh'` ε in (-1, 1), `'identity'` unbounded (pairs with Gaussian warm-up).
   */
  activation?: OutputActivation;
  /**
   * Only with `activation: 'identity'`: softly bounds ε to [-m, m] as `m·tanh(raw / m)` (slope 1
   * at 0, no hard clip) so the adversary cannot run away (protocol §0b.6).
   * `null` (default) = unbounded.
   */
  maxDeviation?: number | null;
}

/** Serialized {@link LearnedNoiseGenerator} (architecture only; weights via `getWeights`). */
export type LearnedNoiseGeneratorConfig = {
  type: 'learned';
  seed: number;
  latentDim: number;
  hiddenUnits: number;
  contextDim: number;
  activation: OutputActivation;
  maxDeviation: number | null;
};

/** Named weights of a {@link LearnedNoiseGenerator}, row-major Float32Arrays (see `weightShapes`). */
export type NamedWeights = Record<string, Float32Array>;

const ACTIVATIONS: readonly OutputActivation[] = ['sigmoid', 'identity', 'tanh'];
const WEIGHT_NAMES = ['dense1/kernel', 'dense1/bias', 'dense2/kernel', 'dense2/bias'] as const;
/** Stream of the seed used for weight init (sampling call k uses stream k). */
const INIT_STREAM = 0xffffffff;
let instances = 0;

/**
 * The model-based noise generator f_φ (paper §3.3-3.4, protocol §1.4): a 2-layer MLP applied per
 * candidate to `[y, z, context]` with z ~ N(0, I_{d_z}):
 *
 * `Linear(1 + d_z + c → hidden) → ReLU → Linear(hidden → 1) → activation`
 *
 * Weights are `tf.Variable`s initialized Glorot-uniform (biases 0) from the seed (drawn in JS, so
 * identical on every backend), exposed by `trainableVariables()`. `sample` is differentiable w.r.t.
 * them (Eq. 7's adversarial step). z is drawn in JS from stream `position` of the seed, so the
 * same seed and call index give the same z. The MLP runs on 2-D `[B·L, in]` tensors with untransposed
 * matMuls in both passes (fast on wasm).
 */
export class LearnedNoiseGenerator implements NoiseGenerator {
  readonly type = 'learned';
  readonly seed: number;
  readonly latentDim: number;
  readonly hiddenUnits: number;
  readonly contextDim: number;
  readonly activation: OutputActivation;
  readonly maxDeviation: number | null;
  private readonly vars: Record<(typeof WEIGHT_NAMES)[number], tf.Variable>;
  private calls = 0;
  private disposed = false;

  constructor(options: LearnedNoiseGeneratorOptions) {
    const owner = 'LearnedNoiseGenerator';
    if (options === null || typeof options !== 'object') {
      throw new TypeError(
        `${owner}: options must be an object with a seed, got ${String(options)}`,
      );
    }
    this.seed = checkSeed(options.seed, owner);
    this.latentDim = checkNumber(owner, 'latentDim', options.latentDim ?? 16, {
      min: 0,
      integer: true,
    });
    this.hiddenUnits = checkNumber(owner, 'hiddenUnits', options.hiddenUnits ?? 128, {
      min: 1,
      integer: true,
    });
    this.contextDim = checkNumber(owner, 'contextDim', options.contextDim ?? 0, {
      min: 0,
      integer: true,
    });
    const activation = options.activation ?? 'sigmoid';
    if (!ACTIVATIONS.includes(activation)) {
      throw new RangeError(
        `${owner}: activation must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(activation)}`,
      );
    }
    this.activation = activation;
    const maxDeviation = options.maxDeviation ?? null;
    if (maxDeviation !== null) {
      checkNumber(owner, 'maxDeviation', maxDeviation, { min: 0, minExclusive: true });
      if (activation !== 'identity') {
        throw new RangeError(
          `${owner}: maxDeviation (${maxDeviation}) applies only to activation 'identity', got activation ` +
            `${JSON.stringify(activation)} (already bounded)`,
        );
      }
    }
    this.maxDeviation = maxDeviation;

    const inDim = 1 + this.latentDim + this.contextDim;
    const h = this.hiddenUnits;
    const prng = createPrng(this.seed, INIT_STREAM);
    const glorot = (fanIn: number, fanOut: number): Float32Array => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const v = new Float32Array(fanIn * fanOut);
      for (let i = 0; i < v.length; i++) v[i] = (2 * prng.uniform() - 1) * limit;
      return v;
    };
    instances += 1;
    let prefix = `dnr-noise/learned_${instances}`;
    while (tf.engine().registeredVariables[`${prefix}/dense1/kernel`] !== undefined) {
      instances += 1;
      prefix = `dnr-noise/learned_${instances}`;
    }
    const make = (name: string, values: Float32Array, shape: number[]): tf.Variable =>
      tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true, `${prefix}/${name}`));
    this.vars = {
      'dense1/kernel': make('dense1/kernel', glorot(inDim, h), [inDim, h]),
      'dense1/bias': make('dense1/bias', new Float32Array(h), [h]),
      'dense2/kernel': make('dense2/kernel', glorot(h, 1), [h, 1]),
      'dense2/bias': make('dense2/bias', new Float32Array(1), [1]),
    };
  }

  /** Rebuilds a generator (fresh seeded weights) from {@link LearnedNoiseGenerator.getConfig}. */
  static fromConfig(config: NoiseConfigBase): LearnedNoiseGenerator {
    const owner = 'LearnedNoiseGenerator';
    checkType(owner, config, 'learned');
    checkKeys(owner, config, [
      'type',
      'seed',
      'latentDim',
      'hiddenUnits',
      'contextDim',
      'activation',
      'maxDeviation',
    ]);
    return new LearnedNoiseGenerator(config as unknown as LearnedNoiseGeneratorOptions);
  }

  /** Input width of the first layer: 1 (label) + latentDim + contextDim. */
  get inputDim(): number {
    return 1 + this.latentDim + this.contextDim;
  }

  /** Number of `sample` calls so far (the seed stream of the next call's z). */
  get position(): number {
    return this.calls;
  }

  /** Moves to call number `position` (integer >= 0), e.g. to resume from a checkpoint. */
  seek(position: number): void {
    this.calls = checkPosition('LearnedNoiseGenerator.seek', position);
  }

  /**
   * Draws ε = f_φ([y, z, context]) for a batch.
   *
   * @param labels - `[B, L]` labels (float32; other dtypes are cast).
   * @param options - `training` must be true; `context` is required iff `contextDim > 0`:
   *   `[B, L, contextDim]` or `[B, contextDim]` (repeated over L), float32, detached here.
   * @returns `[B, L]` float32 ε, differentiable w.r.t. `trainableVariables()`.
   */
  sample(labels: tf.Tensor2D, options: SampleOptions): tf.Tensor2D {
    const owner = 'LearnedNoiseGenerator';
    assertTraining(owner, options);
    this.assertAlive();
    const [b, l] = labelShape(`${owner}.sample`, labels);
    const n = b * l;
    const ctx = options.context;
    if (this.contextDim > 0 && ctx === undefined) {
      throw new TypeError(
        `${owner}.sample: contextDim is ${this.contextDim} but options.context is missing`,
      );
    }
    if (this.contextDim === 0 && ctx !== undefined) {
      throw new TypeError(
        `${owner}.sample: options.context was given (shape [${ctx.shape.join(', ')}]) but contextDim is 0; ` +
          `construct the generator with contextDim = the context width`,
      );
    }
    if (ctx !== undefined) {
      const ok =
        (ctx.rank === 3 &&
          ctx.shape[0] === b &&
          ctx.shape[1] === l &&
          ctx.shape[2] === this.contextDim) ||
        (ctx.rank === 2 && ctx.shape[0] === b && ctx.shape[1] === this.contextDim);
      if (!ok) {
        throw new RangeError(
          `${owner}.sample: context must be [${b}, ${l}, ${this.contextDim}] or [${b}, ${this.contextDim}], ` +
            `got [${ctx.shape.join(', ')}]`,
        );
      }
    }
    const z = new Float32Array(n * this.latentDim);
    const prng = createPrng(this.seed, this.calls);
    this.calls += 1;
    for (let i = 0; i < z.length; i++) z[i] = prng.normal();

    return tf.tidy(() => {
      const parts: tf.Tensor2D[] = [tf.reshape(tf.cast(labels, 'float32'), [n, 1])];
      if (this.latentDim > 0) parts.push(tf.tensor2d(z, [n, this.latentDim], 'float32'));
      if (ctx !== undefined) {
        const c = stopGradient(tf.cast(ctx, 'float32'));
        const perCandidate = c.rank === 3 ? c : tf.tile(tf.expandDims(c, 1), [1, l, 1]);
        parts.push(tf.reshape(perCandidate, [n, this.contextDim]));
      }
      const x = parts.length === 1 ? (parts[0] as tf.Tensor2D) : tf.concat(parts, 1);
      const v = this.vars;
      const hidden = tf.relu(dense2d(x, v['dense1/kernel'], v['dense1/bias']));
      const raw = dense2d(hidden, v['dense2/kernel'], v['dense2/bias']);
      let eps: tf.Tensor;
      switch (this.activation) {
        case 'sigmoid':
          eps = tf.sigmoid(raw);
          break;
        case 'tanh':
          eps = tf.tanh(raw);
          break;
        case 'identity': {
          const m = this.maxDeviation;
          eps = m === null ? raw : tf.mul(tf.tanh(tf.div(raw, m)), m);
          break;
        }
      }
      return tf.reshape(eps, [b, l]);
    });
  }

  /** Plain-JSON architecture config (weights are separate: `getWeights`). */
  getConfig(): LearnedNoiseGeneratorConfig {
    return {
      type: 'learned',
      seed: this.seed,
      latentDim: this.latentDim,
      hiddenUnits: this.hiddenUnits,
      contextDim: this.contextDim,
      activation: this.activation,
      maxDeviation: this.maxDeviation,
    };
  }

  /** The four variables, in the order dense1/kernel, dense1/bias, dense2/kernel, dense2/bias. */
  trainableVariables(): tf.Variable[] {
    this.assertAlive();
    return WEIGHT_NAMES.map((name) => this.vars[name]);
  }

  /** Bounds of ε implied by the activation (and `maxDeviation`). */
  support(): NoiseSupport {
    let range: readonly [number, number];
    if (this.activation === 'sigmoid') range = [0, 1];
    else if (this.activation === 'tanh') range = [-1, 1];
    else if (this.maxDeviation !== null) range = [-this.maxDeviation, this.maxDeviation];
    else range = [-Infinity, Infinity];
    return { positive: range, negative: range };
  }

  /**
   * Shapes of the named weights: `dense1/kernel [inputDim, hiddenUnits]`, `dense1/bias
   * [hiddenUnits]`, `dense2/kernel [hiddenUnits, 1]`, `dense2/bias [1]`.
   */
  weightShapes(): Record<string, number[]> {
    return {
      'dense1/kernel': [this.inputDim, this.hiddenUnits],
      'dense1/bias': [this.hiddenUnits],
      'dense2/kernel': [this.hiddenUnits, 1],
      'dense2/bias': [1],
    };
  }

  /** Copies of the current weights as named row-major Float32Arrays (for checkpoints). */
  getWeights(): NamedWeights {
    this.assertAlive();
    const out: NamedWeights = {};
    for (const name of WEIGHT_NAMES) out[name] = Float32Array.from(this.vars[name].dataSync());
    return out;
  }

  /**
   * Overwrites every weight from named Float32Arrays (as returned by `getWeights`). All four names
   * are required and each length must match `weightShapes()`; nothing is changed on a mismatch.
   */
  setWeights(weights: NamedWeights): void {
    this.assertAlive();
    const shapes = this.weightShapes();
    for (const name of Object.keys(weights)) {
      if (!(WEIGHT_NAMES as readonly string[]).includes(name)) {
        throw new RangeError(
          `LearnedNoiseGenerator.setWeights: unknown weight ${JSON.stringify(name)}`,
        );
      }
    }
    for (const name of WEIGHT_NAMES) {
      const values = weights[name];
      const size = (shapes[name] as number[]).reduce((p, d) => p * d, 1);
      if (!(values instanceof Float32Array) || values.length !== size) {
        throw new RangeError(
          `LearnedNoiseGenerator.setWeights: ${name} must be a Float32Array of length ${size} ` +
            `(shape [${(shapes[name] as number[]).join(', ')}]), got ${
              values instanceof Float32Array ? `length ${values.length}` : String(values)
            }`,
        );
      }
    }
    for (const name of WEIGHT_NAMES) {
      tf.tidy(() => {
        this.vars[name].assign(tf.tensor(weights[name] as Float32Array, shapes[name], 'float32'));
      });
    }
  }

  /** Disposes the variables; the generator cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const name of WEIGHT_NAMES) this.vars[name].dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('LearnedNoiseGenerator: used after dispose()');
  }
}
