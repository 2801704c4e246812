import * as tf from '@tensorflow/tfjs-core';
import type { NoiseConfigBase, NoiseGenerator, NoiseSupport, SampleOptions } from './generator.js';
import { checkKeys, checkNumber } from './generator.js';
import { noiseGeneratorFromConfig } from './registry.js';

/** How labels and noise are mixed (Eq. 4). */
export type MixKind = 'linear' | 'sqrt';

/** Options of {@link synthesizeScores}. */
export interface SynthesisOptions {
  /** Noise proportion α in the open interval (0, 1) (paper Table 7: 0.4 ML-1M, 0.3 Kuaivideo, 0.5 Book). */
  alpha: number;
  /**
   * `'linear'` (default, paper reading [INFER]): x̂ = (1 - α)·y + α·ε.
   * `'sqrt'` (DDPM-style [GUESS]): x̂ = √(1 - α)·y + √α·ε.
   */
  mix?: MixKind;
  /** Optional `[lo, hi]` (lo < hi) to clip x̂ into; default none (x̂ is only an input feature). */
  clamp?: readonly [number, number] | null;
}

/** Validated synthesis settings with defaults filled in. */
export interface ResolvedSynthesisOptions {
  alpha: number;
  mix: MixKind;
  clamp: [number, number] | null;
}

/** Validates {@link SynthesisOptions} and fills defaults; throws naming the bad field. */
export function resolveSynthesisOptions(
  options: SynthesisOptions,
  owner = 'synthesizeScores',
): ResolvedSynthesisOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(
      `${owner}: options must be an object { alpha, mix?, clamp? }, got ${String(options)}`,
    );
  }
  const alpha = checkNumber(owner, 'alpha', options.alpha, {
    min: 0,
    max: 1,
    minExclusive: true,
    maxExclusive: true,
  });
  const mix = options.mix ?? 'linear';
  if (mix !== 'linear' && mix !== 'sqrt') {
    throw new RangeError(`${owner}: mix must be 'linear' or 'sqrt', got ${JSON.stringify(mix)}`);
  }
  let clamp: [number, number] | null = null;
  if (options.clamp !== undefined && options.clamp !== null) {
    const c = options.clamp;
    if (!Array.isArray(c) || c.length !== 2) {
      throw new RangeError(`${owner}: clamp must be [lo, hi] or null, got ${JSON.stringify(c)}`);
    }
    const lo = checkNumber(owner, 'clamp[0]', c[0]);
    const hi = checkNumber(owner, 'clamp[1]', c[1], { min: lo, minExclusive: true });
    clamp = [lo, hi];
  }
  return { alpha, mix, clamp };
}

/** The Eq. 4 coefficients: x̂ = labelWeight·y + noiseWeight·ε. */
export function mixCoefficients(
  alpha: number,
  mix: MixKind = 'linear',
): { labelWeight: number; noiseWeight: number } {
  const r = resolveSynthesisOptions({ alpha, mix }, 'mixCoefficients');
  return r.mix === 'linear'
    ? { labelWeight: 1 - r.alpha, noiseWeight: r.alpha }
    : { labelWeight: Math.sqrt(1 - r.alpha), noiseWeight: Math.sqrt(r.alpha) };
}

/**
 * Synthetic retriever scores, Eq. 4 of the DNR paper (protocol §1.2):
 * linear `x̂ = (1 - α)·y + α·ε`, or sqrt `x̂ = √(1 - α)·y + √α·ε`, then optionally clipped.
 *
 * Differentiable w.r.t. `noise` (the learned generator's adversarial step flows through it; the
 * clip has zero gradient outside `[lo, hi]`).
 *
 * Caution (protocol §0b.2): with ε bounded in (0, 1) (Beta, sigmoid generator) and the linear mix
 * at α < 0.5, positives land in [1 - α, 1] and negatives in [0, α], so x̂ separates the classes
 * perfectly (AUC(x̂, y) = 1) and the denoising task becomes trivial. Use overlapping noise (Gaussian,
 * signed Beta, label-conditional Beta, tanh / identity learned output) or check with
 * {@link classesSeparated}.
 *
 * @param labels - `[B, L]` labels y (float32; other dtypes are cast).
 * @param noise - `[B, L]` float32 ε (same shape as labels).
 * @returns a new `[B, L]` float32 tensor x̂.
 */
export function synthesizeScores(
  labels: tf.Tensor2D,
  noise: tf.Tensor2D,
  options: SynthesisOptions,
): tf.Tensor2D {
  const { alpha, mix, clamp } = resolveSynthesisOptions(options);
  if (!(labels instanceof tf.Tensor) || !(noise instanceof tf.Tensor)) {
    throw new TypeError('synthesizeScores: labels and noise must be tensors');
  }
  if (labels.rank !== 2 || !tf.util.arraysEqual(labels.shape, noise.shape)) {
    throw new RangeError(
      `synthesizeScores: labels and noise must both be [B, L] with the same shape, got ` +
        `[${labels.shape.join(', ')}] and [${noise.shape.join(', ')}]`,
    );
  }
  const { labelWeight, noiseWeight } =
    mix === 'linear'
      ? { labelWeight: 1 - alpha, noiseWeight: alpha }
      : { labelWeight: Math.sqrt(1 - alpha), noiseWeight: Math.sqrt(alpha) };
  return tf.tidy(() => {
    const x = tf.add(
      tf.mul(tf.cast(labels, 'float32'), labelWeight),
      tf.mul(tf.cast(noise, 'float32'), noiseWeight),
    );
    return (clamp === null ? x : tf.clipByValue(x, clamp[0], clamp[1])) as tf.Tensor2D;
  });
}

/**
 * True when Eq. 4 with noise bounded by `support` can never rank a negative above a positive, i.e.
 * the synthetic scores separate the classes perfectly (AUC(x̂, y) = 1 whatever the draw):
 * `labelWeight + noiseWeight·positive.lo >= noiseWeight·negative.hi`. Unbounded noise (Gaussian,
 * identity output without `maxDeviation`) never separates. Use it to warn about protocol §0b.2,
 * e.g. Beta(0.5, 0.5) with the linear mix separates for α <= 0.5, signed Beta for α <= 1/3.
 */
export function classesSeparated(support: NoiseSupport, options: SynthesisOptions): boolean {
  const { alpha, mix } = resolveSynthesisOptions(options, 'classesSeparated');
  const { labelWeight, noiseWeight } = mixCoefficients(alpha, mix);
  const lowestPositive = labelWeight + noiseWeight * support.positive[0];
  const highestNegative = noiseWeight * support.negative[1];
  return (
    Number.isFinite(lowestPositive) &&
    Number.isFinite(highestNegative) &&
    lowestPositive >= highestNegative
  );
}

/** Options of {@link ScoreAugmenter}. */
export interface ScoreAugmenterOptions extends SynthesisOptions {
  /** The noise source (heuristic or learned); the augmenter does not own it (see `dispose`). */
  generator: NoiseGenerator;
}

/** Serialized {@link ScoreAugmenter}: the synthesis settings and the generator's config. */
export type ScoreAugmenterConfig = {
  alpha: number;
  mix: MixKind;
  clamp: [number, number] | null;
  generator: NoiseConfigBase;
};

/**
 * A generator plus the Eq. 4 mix, with tfjs `GaussianNoise` semantics: in training it returns
 * synthetic scores x̂ built from the labels; at inference it returns the real scores untouched
 * (the very same tensor object, not a copy, as tfjs layers do).
 */
export class ScoreAugmenter {
  readonly generator: NoiseGenerator;
  readonly alpha: number;
  readonly mix: MixKind;
  readonly clamp: [number, number] | null;

  constructor(options: ScoreAugmenterOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`ScoreAugmenter: options must be an object, got ${String(options)}`);
    }
    checkKeys('ScoreAugmenter', options, ['generator', 'alpha', 'mix', 'clamp']);
    const g = options.generator as NoiseGenerator | undefined;
    if (g === undefined || g === null || typeof g.sample !== 'function') {
      throw new TypeError(`ScoreAugmenter: generator must be a NoiseGenerator, got ${String(g)}`);
    }
    const r = resolveSynthesisOptions(options, 'ScoreAugmenter');
    this.generator = g;
    this.alpha = r.alpha;
    this.mix = r.mix;
    this.clamp = r.clamp;
  }

  /** The synthesis settings as {@link SynthesisOptions}. */
  get synthesisOptions(): ResolvedSynthesisOptions {
    return { alpha: this.alpha, mix: this.mix, clamp: this.clamp };
  }

  /**
   * Training: draws ε from the generator and returns a new `[B, L]` float32 x̂ (Eq. 4).
   * Inference (`training: false`): returns `scores` itself, untouched (no noise drawn).
   *
   * @param scores - `[B, L]` real retriever scores x (float32).
   * @param labels - `[B, L]` labels y in {0, 1} (float32).
   * @param options - `{ training, context? }` (context is passed on to the generator).
   */
  apply(scores: tf.Tensor2D, labels: tf.Tensor2D, options: SampleOptions): tf.Tensor2D {
    if (options === undefined || typeof options.training !== 'boolean') {
      throw new TypeError(
        `ScoreAugmenter.apply: options.training must be a boolean, got ${String(options?.training)}`,
      );
    }
    if (!options.training) return scores;
    if (!tf.util.arraysEqual(scores.shape, labels.shape)) {
      throw new RangeError(
        `ScoreAugmenter.apply: scores [${scores.shape.join(', ')}] and labels [${labels.shape.join(', ')}] differ in shape`,
      );
    }
    return this.synthesize(
      labels,
      options.context === undefined ? {} : { context: options.context },
    );
  }

  /**
   * Synthetic scores x̂ for `[B, L]` labels (always the training path): a new `[B, L]` float32
   * tensor, differentiable w.r.t. the generator's trainable variables.
   */
  synthesize(labels: tf.Tensor2D, options: { context?: tf.Tensor } = {}): tf.Tensor2D {
    const sampleOptions: SampleOptions = { training: true };
    if (options.context !== undefined) sampleOptions.context = options.context;
    return tf.tidy(() => {
      const noise = this.generator.sample(labels, sampleOptions);
      return synthesizeScores(labels, noise, this.synthesisOptions);
    });
  }

  /** Whether this generator and mix separate the classes perfectly (see {@link classesSeparated}). */
  separatesClasses(): boolean {
    return classesSeparated(this.generator.support(), this.synthesisOptions);
  }

  /** Plain-JSON config (rebuild with `ScoreAugmenter.fromConfig`). */
  getConfig(): ScoreAugmenterConfig {
    return {
      alpha: this.alpha,
      mix: this.mix,
      clamp: this.clamp,
      generator: this.generator.getConfig(),
    };
  }

  /** Rebuilds an augmenter (and a fresh generator) from {@link ScoreAugmenter.getConfig}'s output. */
  static fromConfig(config: ScoreAugmenterConfig): ScoreAugmenter {
    if (config === null || typeof config !== 'object') {
      throw new TypeError(
        `ScoreAugmenter.fromConfig: config must be an object, got ${String(config)}`,
      );
    }
    checkKeys('ScoreAugmenter.fromConfig', config, ['generator', 'alpha', 'mix', 'clamp']);
    return new ScoreAugmenter({
      generator: noiseGeneratorFromConfig(config.generator),
      alpha: config.alpha,
      mix: config.mix,
      clamp: config.clamp,
    });
  }

  /** Disposes the generator (the augmenter holds nothing else). */
  dispose(): void {
    this.generator.dispose();
  }
}
