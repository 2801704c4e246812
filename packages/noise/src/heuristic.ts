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
import type { Prng } from './random.js';
import { checkSeed, createPrng } from './random.js';

/**
 * Shared machinery of the heuristic (non-trainable) generators: ε is drawn in JavaScript from a
 * seeded stream (call `k` uses stream `k` of the seed) and uploaded with `tf.tensor2d`, so the
 * same seed gives bit-identical noise on every backend.
 */
abstract class HeuristicNoise implements NoiseGenerator {
  abstract readonly type: string;
  readonly seed: number;
  private calls = 0;

  protected constructor(
    protected readonly owner: string,
    seed: unknown,
  ) {
    this.seed = checkSeed(seed, owner);
  }

  /** Number of `sample` calls so far (the seed stream the next call draws from). */
  get position(): number {
    return this.calls;
  }

  /** Moves to call number `position` (integer >= 0), e.g. to resume from a checkpoint. */
  seek(position: number): void {
    this.calls = checkPosition(`${this.owner}.seek`, position);
  }

  /**
   * Draws ε for a batch (see {@link NoiseGenerator.sample}).
   *
   * @param labels - `[B, L]` labels (float32); only the shape is read, except by the
   *   label-conditional generator, which reads the values (label > 0.5 = positive).
   * @param options - `training` must be true (throws otherwise); `context` is ignored.
   * @returns a new `[B, L]` float32 tensor, bit-identical on every backend for a given seed/position.
   */
  sample(labels: tf.Tensor2D, options: SampleOptions): tf.Tensor2D {
    assertTraining(this.owner, options);
    const [b, l] = labelShape(`${this.owner}.sample`, labels);
    const values = new Float32Array(b * l);
    const prng = createPrng(this.seed, this.calls);
    this.calls += 1;
    this.fill(values, prng, labels);
    return tf.tensor2d(values, [b, l], 'float32');
  }

  /** Writes `values.length` noise values (row-major over [B, L]). */
  protected abstract fill(values: Float32Array, prng: Prng, labels: tf.Tensor2D): void;

  abstract getConfig(): NoiseConfigBase;
  abstract support(): NoiseSupport;

  /** Always empty: heuristic generators are not trained. */
  trainableVariables(): tf.Variable[] {
    return [];
  }

  /** A no-op (nothing to free). */
  dispose(): void {
    // Heuristic generators hold no tensors.
  }
}

// ---------------------------------------------------------------------------------------------
// Gaussian

/** Constructor options of {@link GaussianNoise}. */
export interface GaussianNoiseOptions {
  /** Integer in [0, 2^32). Required: every random source is seeded explicitly. */
  seed: number;
  /** Mean of ε. Default 0. */
  mean?: number;
  /** Standard deviation of ε (> 0). Default 1 (protocol §1.3). */
  std?: number;
}

/** Serialized {@link GaussianNoise}. */
export type GaussianNoiseConfig = { type: 'gaussian'; seed: number; mean: number; std: number };

/**
 * Heuristic Gaussian noise, ε ~ N(mean, std²) i.i.d. per candidate (DNR-G; default N(0, 1)).
 * Unbounded, so the classes of x̂ always overlap.
 */
export class GaussianNoise extends HeuristicNoise {
  readonly type = 'gaussian';
  readonly mean: number;
  readonly std: number;

  constructor(options: GaussianNoiseOptions) {
    super('GaussianNoise', options?.seed);
    this.mean = checkNumber(this.owner, 'mean', options.mean ?? 0);
    this.std = checkNumber(this.owner, 'std', options.std ?? 1, { min: 0, minExclusive: true });
  }

  /** Rebuilds a generator from {@link GaussianNoise.getConfig}'s output. */
  static fromConfig(config: NoiseConfigBase): GaussianNoise {
    checkType('GaussianNoise', config, 'gaussian');
    checkKeys('GaussianNoise', config, ['type', 'seed', 'mean', 'std']);
    return new GaussianNoise(config as unknown as GaussianNoiseOptions);
  }

  protected fill(values: Float32Array, prng: Prng): void {
    for (let i = 0; i < values.length; i++) values[i] = this.mean + this.std * prng.normal();
  }

  /** Plain-JSON config `{ type: 'gaussian', seed, mean, std }`. */
  getConfig(): GaussianNoiseConfig {
    return { type: 'gaussian', seed: this.seed, mean: this.mean, std: this.std };
  }

  /** Unbounded: `[-Infinity, Infinity]` for both labels. */
  support(): NoiseSupport {
    return { positive: [-Infinity, Infinity], negative: [-Infinity, Infinity] };
  }
}

// ---------------------------------------------------------------------------------------------
// Beta

/** Named Beta shapes from the paper: `'dnr-b'` = U-shaped Beta(0.5, 0.5), `'dnr-bl'` = Beta(2, 5). */
export const BETA_PRESETS = {
  /** U-shaped Beta(0.5, 0.5), the main DNR-B heuristic (protocol §1.3; shape 0.5 is [INFER]). */
  'dnr-b': { a: 0.5, b: 0.5 },
  /** Beta(2, 5), DNR-BL: "more aligned with the true noise distribution" (paper appendix E.3). */
  'dnr-bl': { a: 2, b: 5 },
} as const;

/** A key of {@link BETA_PRESETS}. */
export type BetaPreset = keyof typeof BETA_PRESETS;

/** Constructor options of {@link BetaNoise}. */
export interface BetaNoiseOptions {
  /** Integer in [0, 2^32). Required. */
  seed: number;
  /** Shape preset; explicit `a` / `b` override it. Default `'dnr-b'` (a = b = 0.5). */
  preset?: BetaPreset;
  /** First shape parameter (> 0). */
  a?: number;
  /** Second shape parameter (> 0). */
  b?: number;
  /**
   * Map ε to `2·ε - 1` in (-1, 1) (protocol §0b.2), so that x̂'s classes overlap when α > 1/3
   * under the linear mix. Default false (paper-faithful ε in (0, 1)).
   */
  signed?: boolean;
}

/** Serialized {@link BetaNoise}. */
export type BetaNoiseConfig = { type: 'beta'; seed: number; a: number; b: number; signed: boolean };

/**
 * Heuristic Beta noise, ε ~ Beta(a, b) i.i.d. per candidate (or `2·ε - 1` when `signed`).
 * Sampled as a Gamma ratio (Marsaglia-Tsang for shape >= 1, the `U^(1/a)` boost below 1), so the
 * U-shaped shapes below 1 are exact. Defaults to the U-shaped Beta(0.5, 0.5) of DNR-B.
 *
 * Caution (protocol §0b.2): with ε in (0, 1) and the linear mix at α < 0.5, x̂ separates the
 * classes perfectly; prefer `signed: true`, Gaussian or label-conditional noise for overlap.
 */
export class BetaNoise extends HeuristicNoise {
  readonly type = 'beta';
  readonly a: number;
  readonly b: number;
  readonly signed: boolean;

  constructor(options: BetaNoiseOptions) {
    super('BetaNoise', options?.seed);
    const preset = options.preset ?? 'dnr-b';
    const shapes = BETA_PRESETS[preset] as { a: number; b: number } | undefined;
    if (shapes === undefined) {
      throw new RangeError(
        `BetaNoise: preset must be one of ${Object.keys(BETA_PRESETS).join(', ')}, got ${JSON.stringify(preset)}`,
      );
    }
    this.a = checkNumber(this.owner, 'a', options.a ?? shapes.a, { min: 0, minExclusive: true });
    this.b = checkNumber(this.owner, 'b', options.b ?? shapes.b, { min: 0, minExclusive: true });
    const signed = options.signed ?? false;
    if (typeof signed !== 'boolean') {
      throw new TypeError(`BetaNoise: signed must be a boolean, got ${JSON.stringify(signed)}`);
    }
    this.signed = signed;
  }

  /** Rebuilds a generator from {@link BetaNoise.getConfig}'s output. */
  static fromConfig(config: NoiseConfigBase): BetaNoise {
    checkType('BetaNoise', config, 'beta');
    checkKeys('BetaNoise', config, ['type', 'seed', 'a', 'b', 'signed', 'preset']);
    return new BetaNoise(config as unknown as BetaNoiseOptions);
  }

  protected fill(values: Float32Array, prng: Prng): void {
    const { a, b } = this;
    if (this.signed) {
      for (let i = 0; i < values.length; i++) values[i] = 2 * prng.beta(a, b) - 1;
    } else {
      for (let i = 0; i < values.length; i++) values[i] = prng.beta(a, b);
    }
  }

  /** Plain-JSON config `{ type: 'beta', seed, a, b, signed }`. */
  getConfig(): BetaNoiseConfig {
    return { type: 'beta', seed: this.seed, a: this.a, b: this.b, signed: this.signed };
  }

  /** `[0, 1]`, or `[-1, 1]` when signed, for both labels. */
  support(): NoiseSupport {
    const range = this.signed ? ([-1, 1] as const) : ([0, 1] as const);
    return { positive: range, negative: range };
  }
}

// ---------------------------------------------------------------------------------------------
// Label-conditional Beta

/** A Beta(a, b) stretched onto `[lo, hi]`: ε = lo + (hi - lo)·B with B ~ Beta(a, b). */
export type ScaledBetaParams = { a: number; b: number; lo: number; hi: number };

/** Constructor options of {@link LabelConditionalBetaNoise}. */
export interface LabelConditionalBetaNoiseOptions {
  /** Integer in [0, 2^32). Required. */
  seed: number;
  /** ε for candidates with label 1 (label > 0.5). `lo` / `hi` default to 0 / 1. */
  positive: { a: number; b: number; lo?: number; hi?: number };
  /** ε for candidates with label 0 (label <= 0.5). `lo` / `hi` default to 0 / 1. */
  negative: { a: number; b: number; lo?: number; hi?: number };
}

/** Serialized {@link LabelConditionalBetaNoise}. */
export type LabelConditionalBetaNoiseConfig = {
  type: 'label-beta';
  seed: number;
  positive: ScaledBetaParams;
  negative: ScaledBetaParams;
};

function checkScaledBeta(owner: string, field: string, p: unknown): ScaledBetaParams {
  if (p === null || typeof p !== 'object') {
    throw new TypeError(
      `${owner}: ${field} must be an object { a, b, lo?, hi? }, got ${JSON.stringify(p)}`,
    );
  }
  checkKeys(`${owner} (${field})`, p, ['a', 'b', 'lo', 'hi']);
  const q = p as Partial<ScaledBetaParams>;
  const a = checkNumber(owner, `${field}.a`, q.a, { min: 0, minExclusive: true });
  const b = checkNumber(owner, `${field}.b`, q.b, { min: 0, minExclusive: true });
  const lo = checkNumber(owner, `${field}.lo`, q.lo ?? 0);
  const hi = checkNumber(owner, `${field}.hi`, q.hi ?? 1, { min: lo, minExclusive: true });
  return { a, b, lo, hi };
}

/**
 * Label-conditional Beta noise: ε ~ lo₁ + (hi₁ - lo₁)·Beta(a₁, b₁) for candidates with label 1 and
 * lo₀ + (hi₀ - lo₀)·Beta(a₀, b₀) for label 0. Fit the parameters to real retriever scores with
 * {@link fitLabelConditionalBeta} ("set a, b to align with the observed noise distribution",
 * paper §3.3) so that x̂ mimics the observed per-class score distribution (and its class overlap).
 *
 * `sample` reads the labels back to JavaScript (`dataSync`), a synchronous download on GPU backends.
 */
export class LabelConditionalBetaNoise extends HeuristicNoise {
  readonly type = 'label-beta';
  readonly positive: ScaledBetaParams;
  readonly negative: ScaledBetaParams;

  constructor(options: LabelConditionalBetaNoiseOptions) {
    super('LabelConditionalBetaNoise', options?.seed);
    this.positive = checkScaledBeta(this.owner, 'positive', options.positive);
    this.negative = checkScaledBeta(this.owner, 'negative', options.negative);
  }

  /** Rebuilds a generator from {@link LabelConditionalBetaNoise.getConfig}'s output. */
  static fromConfig(config: NoiseConfigBase): LabelConditionalBetaNoise {
    checkType('LabelConditionalBetaNoise', config, 'label-beta');
    checkKeys('LabelConditionalBetaNoise', config, ['type', 'seed', 'positive', 'negative']);
    return new LabelConditionalBetaNoise(config as unknown as LabelConditionalBetaNoiseOptions);
  }

  protected fill(values: Float32Array, prng: Prng, labels: tf.Tensor2D): void {
    const y = labels.dataSync();
    const p = this.positive;
    const n = this.negative;
    for (let i = 0; i < values.length; i++) {
      const c = (y[i] as number) > 0.5 ? p : n;
      values[i] = c.lo + (c.hi - c.lo) * prng.beta(c.a, c.b);
    }
  }

  /** Plain-JSON config `{ type: 'label-beta', seed, positive, negative }`. */
  getConfig(): LabelConditionalBetaNoiseConfig {
    return {
      type: 'label-beta',
      seed: this.seed,
      positive: { ...this.positive },
      negative: { ...this.negative },
    };
  }

  /** `[lo, hi]` of each label's scaled Beta. */
  support(): NoiseSupport {
    return {
      positive: [this.positive.lo, this.positive.hi],
      negative: [this.negative.lo, this.negative.hi],
    };
  }
}

/** Options of {@link fitLabelConditionalBeta}. */
export interface FitLabelConditionalBetaOptions {
  /**
   * Noise proportion α of the Eq. 4 mix the generator will be used with, in (0, 1). When given,
   * the fit targets the observed noise ε* = (x - c·y) / w (c, w from `mix`), so that
   * `synthesizeScores(y, ε, { alpha, mix })` reproduces the fitted per-class score distribution on
   * `range` (x̂ then overlaps across classes as much as the real scores do, whatever α is). When
   * omitted, the fit targets the scores themselves (ε | y ~ fitted Beta on `range`, i.e. c = 0,
   * w = 1); with the linear mix and α < 0.5 that separates the classes again (protocol §0b.2).
   */
  alpha?: number;
  /** Mix the generator will be used with (only with `alpha`). Default `'linear'`. */
  mix?: 'linear' | 'sqrt';
  /**
   * Bounds of the score distribution `[lo, hi]`, lo < hi. Default: `[min(0, min x), max(1, max x)]`
   * (so [0, 1] for probability-like scores). Scores outside are clamped into it.
   */
  range?: readonly [number, number];
  /** Smallest Beta shape the fit may return (> 0). Default 0.05. */
  minShape?: number;
  /** Largest Beta shape the fit may return. Default 1000. */
  maxShape?: number;
}

/** Per-class summary of a {@link fitLabelConditionalBeta} fit. */
export interface ClassFitStats {
  /** Number of scores in the class. */
  count: number;
  /** Mean of the scores in the class (score units). */
  scoreMean: number;
  /** Population variance of the scores in the class (score units). */
  scoreVariance: number;
  /** True when the moments were infeasible for a Beta or a shape hit minShape / maxShape. */
  clamped: boolean;
}

/** Result of {@link fitLabelConditionalBeta}; `positive` / `negative` feed the generator. */
export interface LabelConditionalBetaFit {
  positive: ScaledBetaParams;
  negative: ScaledBetaParams;
  /** The score range used. */
  range: [number, number];
  stats: { positive: ClassFitStats; negative: ClassFitStats };
}

/**
 * Fits the parameters of {@link LabelConditionalBetaNoise} to observed retriever scores by the
 * method of moments, separately for label 1 (label > 0.5) and label 0.
 *
 * Per class, the scores are normalized to t = (x - lo) / (hi - lo) on `range`; with mean m and
 * population variance v, a Beta with the same moments has `k = m(1-m)/v - 1`, `a = m·k`,
 * `b = (1-m)·k`. Clamping: m is kept in [1e-6, 1 - 1e-6]; v is kept in (0, m(1-m)) (a Beta's
 * variance is below m(1-m)); a and b are clamped to [minShape, maxShape] (which shifts the mean
 * slightly; `stats.*.clamped` reports it). The support `[lo, hi]` of ε for class y is then the
 * preimage of `range` under the mix (see `alpha`), so that x̂ = c·y + w·ε lies in `range`.
 *
 * @param scores - retriever scores x, any length n (list-major or not: only per-class moments count).
 * @param labels - labels of the same length n (> 0.5 means positive).
 * @throws RangeError when lengths differ, a value is not finite, or a class has fewer than 2 scores.
 */
export function fitLabelConditionalBeta(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: FitLabelConditionalBetaOptions = {},
): LabelConditionalBetaFit {
  const owner = 'fitLabelConditionalBeta';
  if (scores.length !== labels.length) {
    throw new RangeError(
      `${owner}: scores and labels must have the same length, got ${scores.length} and ${labels.length}`,
    );
  }
  checkKeys(owner, options, ['alpha', 'mix', 'range', 'minShape', 'maxShape']);
  const minShape = checkNumber(owner, 'minShape', options.minShape ?? 0.05, {
    min: 0,
    minExclusive: true,
  });
  const maxShape = checkNumber(owner, 'maxShape', options.maxShape ?? 1000, { min: minShape });
  const mix = options.mix ?? 'linear';
  if (mix !== 'linear' && mix !== 'sqrt') {
    throw new RangeError(`${owner}: mix must be 'linear' or 'sqrt', got ${JSON.stringify(mix)}`);
  }
  let c = 0;
  let w = 1;
  if (options.alpha !== undefined) {
    const alpha = checkNumber(owner, 'alpha', options.alpha, {
      min: 0,
      max: 1,
      minExclusive: true,
      maxExclusive: true,
    });
    c = mix === 'linear' ? 1 - alpha : Math.sqrt(1 - alpha);
    w = mix === 'linear' ? alpha : Math.sqrt(alpha);
  }

  let sMin = Infinity;
  let sMax = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    const x = scores[i] as number;
    const y = labels[i] as number;
    if (!Number.isFinite(x)) throw new RangeError(`${owner}: scores[${i}] is not finite (${x})`);
    if (!Number.isFinite(y)) throw new RangeError(`${owner}: labels[${i}] is not finite (${y})`);
    if (x < sMin) sMin = x;
    if (x > sMax) sMax = x;
  }
  let range: [number, number];
  if (options.range !== undefined) {
    const r = options.range;
    if (!Array.isArray(r) || r.length !== 2) {
      throw new RangeError(`${owner}: range must be [lo, hi], got ${JSON.stringify(r)}`);
    }
    const lo = checkNumber(owner, 'range[0]', r[0]);
    const hi = checkNumber(owner, 'range[1]', r[1], { min: lo, minExclusive: true });
    range = [lo, hi];
  } else {
    range = [Math.min(0, sMin), Math.max(1, sMax)];
  }
  const [rLo, rHi] = range;
  const width = rHi - rLo;

  const fitClass = (positive: boolean): { params: ScaledBetaParams; stats: ClassFitStats } => {
    let n = 0;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < scores.length; i++) {
      if ((labels[i] as number) > 0.5 !== positive) continue;
      const x = Math.min(rHi, Math.max(rLo, scores[i] as number));
      const t = (x - rLo) / width;
      n += 1;
      sum += t;
      sumSq += t * t;
    }
    if (n < 2) {
      throw new RangeError(
        `${owner}: need at least 2 scores with label ${positive ? 1 : 0}, got ${n}`,
      );
    }
    const rawMean = sum / n;
    const rawVar = Math.max(0, sumSq / n - rawMean * rawMean);
    let clamped = false;
    const m = Math.min(1 - 1e-6, Math.max(1e-6, rawMean));
    if (m !== rawMean) clamped = true;
    const vMax = m * (1 - m);
    let v = rawVar;
    if (!(v > 0)) {
      v = vMax * 1e-6;
      clamped = true;
    } else if (v >= vMax) {
      v = vMax * (1 - 1e-6);
      clamped = true;
    }
    const k = vMax / v - 1;
    let a = m * k;
    let b = (1 - m) * k;
    const ca = Math.min(maxShape, Math.max(minShape, a));
    const cb = Math.min(maxShape, Math.max(minShape, b));
    if (ca !== a || cb !== b) clamped = true;
    a = ca;
    b = cb;
    const yv = positive ? 1 : 0;
    const lo = (rLo - c * yv) / w;
    const hi = (rHi - c * yv) / w;
    return {
      params: { a, b, lo, hi },
      stats: {
        count: n,
        scoreMean: rLo + width * rawMean,
        scoreVariance: width * width * rawVar,
        clamped,
      },
    };
  };

  const pos = fitClass(true);
  const neg = fitClass(false);
  return {
    positive: pos.params,
    negative: neg.params,
    range,
    stats: { positive: pos.stats, negative: neg.stats },
  };
}
