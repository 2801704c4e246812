import * as tf from '@tensorflow/tfjs-core';

/** Options of {@link NoiseGenerator.sample}. */
export interface SampleOptions {
  /**
   * Must be `true`: noise exists only in training (like tfjs `GaussianNoise`). `sample` throws when
   * it is `false`; at inference feed the real retriever scores (see `ScoreAugmenter.apply`, which
   * returns them untouched when `training` is false).
   */
  training: boolean;
  /**
   * Optional context features for generators that use them (the learned generator with
   * `contextDim > 0`): `[B, L, c]` per candidate or `[B, c]` per list (repeated over the L
   * candidates), float32. Treated as detached: no gradient flows back into it. Heuristic
   * generators ignore it.
   */
  context?: tf.Tensor;
}

/** Closed bounds `[lo, hi]` of the noise values a generator can emit (`±Infinity` if unbounded). */
export type Interval = readonly [number, number];

/** Noise bounds per label value, used to tell whether Eq. 4 separates the classes. */
export interface NoiseSupport {
  /** Bounds of ε for candidates with label 1. */
  positive: Interval;
  /** Bounds of ε for candidates with label 0. */
  negative: Interval;
}

/** A plain-JSON generator config: `type` picks the factory in the registry. */
export type NoiseConfigBase = {
  type: string;
  [key: string]: unknown;
};

/**
 * The contract every noise generator fulfils. A generator draws ε for Eq. 4 of the DNR paper
 * (`x̂ = (1 - α)·y + α·ε`, see `synthesizeScores`).
 *
 * Randomness: every generator owns an explicit integer `seed`. Call number `k` (0-based, counted
 * by `position`) draws from stream `k` of that seed, so repeated calls give different noise, the
 * same seed replays the same sequence, and `seek(k)` resumes a run from a checkpoint.
 */
export interface NoiseGenerator {
  /** Registry key (`'gaussian'`, `'beta'`, `'label-beta'`, `'learned'`, or a custom one). */
  readonly type: string;
  /** Number of `sample` calls so far (the stream the next call draws from). */
  readonly position: number;
  /**
   * Draws noise for a batch of candidate lists.
   *
   * @param labels - `[B, L]` float32 labels in {0, 1} (other numeric dtypes are cast).
   * @param options - `{ training: true, context? }`; throws when `training` is false.
   * @returns a new `[B, L]` float32 tensor ε (the caller owns and disposes it). For the learned
   *   generator it is differentiable w.r.t. `trainableVariables()`.
   */
  sample(labels: tf.Tensor2D, options: SampleOptions): tf.Tensor2D;
  /** Plain-JSON config; `noiseGeneratorFromConfig(getConfig())` rebuilds an equivalent generator. */
  getConfig(): NoiseConfigBase;
  /** Variables to train (empty for heuristic generators). */
  trainableVariables(): tf.Variable[];
  /** Bounds of ε per label (used by `classesSeparated`). */
  support(): NoiseSupport;
  /** Moves the stream to call number `position` (integer >= 0). */
  seek(position: number): void;
  /** Frees tensors and variables held by the generator (a no-op for heuristic generators). */
  dispose(): void;
}

// ---------------------------------------------------------------------------------------------
// Internal helpers shared by the generators.

/** @internal Throws unless `training` is true. */
export function assertTraining(owner: string, options: SampleOptions | undefined): void {
  if (options === undefined || options.training !== true) {
    throw new Error(
      `${owner}.sample: noise is only defined in training (options.training must be true, got ` +
        `${String(options?.training)}). At inference feed the real retriever scores; ` +
        `ScoreAugmenter.apply returns them untouched when training is false.`,
    );
  }
}

/** @internal Checks labels are a rank-2 tensor and returns [B, L]. */
export function labelShape(owner: string, labels: tf.Tensor): [number, number] {
  if (!(labels instanceof tf.Tensor) || labels.rank !== 2) {
    throw new TypeError(
      `${owner}: labels must be a rank-2 [B, L] tensor, got ${
        labels instanceof tf.Tensor ? `shape [${labels.shape.join(', ')}]` : String(labels)
      }`,
    );
  }
  return [labels.shape[0] as number, labels.shape[1] as number];
}

/** @internal Checks `value` is a finite number (optionally within bounds) and returns it. */
export function checkNumber(
  owner: string,
  field: string,
  value: unknown,
  opts: {
    min?: number;
    max?: number;
    minExclusive?: boolean;
    maxExclusive?: boolean;
    integer?: boolean;
  } = {},
): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (opts.integer !== true || Number.isInteger(value)) &&
    (opts.min === undefined ||
      (opts.minExclusive === true ? value > opts.min : value >= opts.min)) &&
    (opts.max === undefined || (opts.maxExclusive === true ? value < opts.max : value <= opts.max));
  if (!ok) {
    const lo =
      opts.min === undefined ? '(-inf' : `${opts.minExclusive === true ? '(' : '['}${opts.min}`;
    const hi =
      opts.max === undefined ? 'inf)' : `${opts.max}${opts.maxExclusive === true ? ')' : ']'}`;
    throw new RangeError(
      `${owner}: ${field} must be a finite ${opts.integer === true ? 'integer' : 'number'} in ${lo}, ${hi}, ` +
        `got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  return value;
}

/** @internal Throws when `config.type` is not `expected`. */
export function checkType(owner: string, config: NoiseConfigBase, expected: string): void {
  if (config.type !== expected) {
    throw new TypeError(
      `${owner}: config.type must be ${JSON.stringify(expected)}, got ${JSON.stringify(config.type)}`,
    );
  }
}

/** @internal Throws on config keys the generator does not know (catches typos such as `stdev`). */
export function checkKeys(owner: string, config: object, allowed: readonly string[]): void {
  for (const key of Object.keys(config)) {
    if (!allowed.includes(key)) {
      throw new TypeError(
        `${owner}: unknown config field ${JSON.stringify(key)}; allowed: ${allowed.join(', ')}`,
      );
    }
  }
}

/** @internal Checks a stream position. */
export function checkPosition(owner: string, position: unknown): number {
  return checkNumber(owner, 'position', position, { min: 0, integer: true });
}
