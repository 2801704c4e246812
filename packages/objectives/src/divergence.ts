/**
 * L_x — the distribution regularizer between synthetic retriever scores x̂ and real retriever
 * scores x (paper Section 3.3: "minimize this difference to approximate the distribution-level KL
 * divergence"). The paper does not give the estimator ([GUESS], protocol.md 1.5 item 5), so it is
 * pluggable: {@link scoreDivergence} dispatches to {@link softmaxKL} (default), {@link histKL},
 * {@link momentsDivergence}, {@link mmd} or {@link classMomentsDivergence} (ours: label-aware).
 *
 * Every function takes x̂ [B,L] and x [B,L] (same shape, float32), returns a scalar, is
 * differentiable w.r.t. x̂, and treats x as a constant (its gradient is stopped). They are pure
 * tensor-in / tensor-out functions: call them inside `tf.tidy` / `optimizer.minimize`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { createPrng, stopGradient } from '@dnr/noise';

/** Names of the built-in L_x estimators. */
export type ScoreDivergenceKind = 'softmaxKL' | 'histKL' | 'moments' | 'mmd' | 'classMoments';

/** All built-in L_x estimators, default first. */
export const SCORE_DIVERGENCE_KINDS: readonly ScoreDivergenceKind[] = [
  'softmaxKL',
  'histKL',
  'moments',
  'mmd',
  'classMoments',
];

/** Options of {@link softmaxKL}. */
export interface SoftmaxKLOptions {
  /** Softmax temperature T > 0 applied to both x and x̂ (default 1). The result is not rescaled by T². */
  temperature?: number;
}

/** Options of {@link histKL}. */
export interface HistKLOptions {
  /** Number of histogram bins, an integer ≥ 1 (default 20). */
  bins?: number;
  /** Histogram range `[lo, hi]` with lo < hi (default `[0, 1]`); bin centers lo + (k + ½)·(hi − lo)/bins. */
  range?: readonly [number, number];
  /** Gaussian kernel bandwidth h > 0 (default: the bin width (hi − lo)/bins). */
  bandwidth?: number;
  /** Additive smoothing ε ≥ 0 of both histograms before the KL (default 1e-6). */
  epsilon?: number;
}

/** Options of {@link momentsDivergence}. */
export interface MomentsOptions {
  /** ε ≥ 0 inside the square root of the std, std = √(var + ε) (default 1e-8; keeps the gradient finite for a constant x̂). */
  epsilon?: number;
}

/** Options of {@link classMomentsDivergence}. */
export interface ClassMomentsOptions extends MomentsOptions {
  /**
   * Labels y [B,L] in {0, 1} of the lists (required). `DnrObjective` passes the batch's labels.
   */
  labels?: Tensor2D;
}

/** Options of {@link mmd}. */
export interface MmdOptions {
  /** Gaussian kernel bandwidth σ > 0 (default 0.1, fixed — no median heuristic); k(u,v) = exp(−(u−v)²/(2σ²)). */
  bandwidth?: number;
  /** At most this many elements of each set enter the kernel sums (integer ≥ 1, default 1024). */
  maxSamples?: number;
  /**
   * Seed (integer in [1, 2^32)) of the JavaScript RNG that picks the subsample. Required only when
   * B·L > maxSamples (an error names it otherwise).
   */
  seed?: number;
  /**
   * RNG stream (integer ≥ 0, default 0). Pass a different value per call (e.g. the step number) so
   * that successive calls subsample different elements; same (seed, stream) = same subsample.
   */
  stream?: number;
}

/** Options per divergence kind, for {@link scoreDivergence}. */
export interface ScoreDivergenceOptionsMap {
  softmaxKL: SoftmaxKLOptions;
  histKL: HistKLOptions;
  moments: MomentsOptions;
  mmd: MmdOptions;
  classMoments: ClassMomentsOptions;
}

// ---------------------------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------------------------

function shapeStr(t: Tensor): string {
  return `[${t.shape.join(',')}]`;
}

/** Checks x̂ and x are rank-2, non-empty and of the same shape; names both shapes on mismatch. */
function checkPair(xHat: Tensor, x: Tensor, fn: string): void {
  if (xHat.rank !== 2)
    throw new Error(`${fn}: xHat must be a rank-2 tensor [B,L], got shape ${shapeStr(xHat)}`);
  if (x.rank !== 2)
    throw new Error(`${fn}: x must be a rank-2 tensor [B,L], got shape ${shapeStr(x)}`);
  if (xHat.shape[0] !== x.shape[0] || xHat.shape[1] !== x.shape[1]) {
    throw new Error(`${fn}: xHat shape ${shapeStr(xHat)} must equal x shape ${shapeStr(x)}`);
  }
  if (xHat.size === 0)
    throw new Error(`${fn}: xHat and x must be non-empty, got shape ${shapeStr(xHat)}`);
}

function positive(value: number, name: string, fn: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${fn}: ${name} must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}

function nonNegative(value: number, name: string, fn: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${fn}: ${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function integerAtLeast(value: number, min: number, name: string, fn: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${fn}: ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// softmaxKL
// ---------------------------------------------------------------------------------------------

/**
 * Per-list softmax KL, the default L_x ([GUESS], the common PyTorch
 * `kl_div(log_softmax(x̂), softmax(x))` idiom):
 * `mean_b Σ_i p_bi (log p_bi − log q_bi)` with `p_b = softmax(x_b / T)` (real) and
 * `q_b = softmax(x̂_b / T)` (synthetic), over the L candidates of each list. It is 0 when x̂ equals
 * x up to a per-list constant shift, and it ties x̂_i to x_i item-wise.
 *
 * @param xHat - synthetic scores x̂, float32 [B,L] (differentiable).
 * @param x - real retriever scores x, float32 [B,L] (treated as constant).
 * @param options - temperature T (default 1).
 * @returns scalar KL(p_real ‖ q_synth) averaged over the B lists (≥ 0).
 */
export function softmaxKL(xHat: Tensor2D, x: Tensor2D, options: SoftmaxKLOptions = {}): Scalar {
  const fn = 'softmaxKL';
  checkPair(xHat, x, fn);
  const t = positive(options.temperature ?? 1, 'temperature', fn);
  return tf.tidy(() => {
    const logP = tf.logSoftmax(tf.div(stopGradient(tf.cast(x, 'float32')), t));
    const logQ = tf.logSoftmax(tf.div(tf.cast(xHat, 'float32'), t));
    const perList = tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), 1);
    return tf.mean(perList) as Scalar;
  });
}

// ---------------------------------------------------------------------------------------------
// histKL
// ---------------------------------------------------------------------------------------------

/**
 * Soft histogram [bins] of the flattened values `v` [N]: each value carries unit mass, spread over
 * the bins by a Gaussian kernel, a_nk = softmax_k(−(v_n − c_k)² / (2h²)); histogram = mean_n a_nk.
 */
function softHistogram(v: Tensor1D, centers: Tensor1D, bandwidth: number): Tensor1D {
  const d = tf.sub(tf.expandDims(v, 1), tf.expandDims(centers, 0)); // [N, bins]
  const logits = tf.div(tf.square(d), -2 * bandwidth * bandwidth);
  return tf.mean(tf.softmax(logits), 0) as Tensor1D;
}

/**
 * KL between soft Gaussian-kernel histograms of all scores in the batch ([GUESS]),
 * direction KL(p_real ‖ q_synth) = Σ_k p_k (log p_k − log q_k).
 *
 * Each score contributes unit mass spread over `bins` bins centred at c_k = lo + (k + ½)·w
 * (w = (hi − lo)/bins) with weights softmax_k(−(v − c_k)²/(2h²)); the histogram is the mean over
 * the B·L scores. Both histograms are smoothed, (h_k + ε)/(1 + bins·ε), before the KL. Scores outside
 * `[lo, hi]` land mostly in the nearest edge bin (and their gradient fades with the distance).
 * The result is invariant to any permutation of the elements of x̂ or x.
 *
 * @param xHat - synthetic scores x̂, float32 [B,L] (differentiable).
 * @param x - real retriever scores x, float32 [B,L] (treated as constant).
 * @param options - bins (20), range ([0, 1]), bandwidth (bin width), epsilon (1e-6).
 * @returns scalar KL ≥ 0 (0 for identical multisets).
 */
export function histKL(xHat: Tensor2D, x: Tensor2D, options: HistKLOptions = {}): Scalar {
  const fn = 'histKL';
  checkPair(xHat, x, fn);
  const bins = integerAtLeast(options.bins ?? 20, 1, 'bins', fn);
  const range = options.range ?? [0, 1];
  const [lo, hi] = range;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    throw new RangeError(
      `${fn}: range must be finite [lo, hi] with lo < hi, got [${String(lo)}, ${String(hi)}]`,
    );
  }
  const width = (hi - lo) / bins;
  const bandwidth = positive(options.bandwidth ?? width, 'bandwidth', fn);
  const eps = nonNegative(options.epsilon ?? 1e-6, 'epsilon', fn);
  return tf.tidy(() => {
    const centers = tf.add(
      tf.mul(tf.range(0, bins, 1, 'float32'), width),
      lo + width / 2,
    ) as Tensor1D;
    const smooth = (h: Tensor1D): Tensor1D => tf.div(tf.add(h, eps), 1 + bins * eps) as Tensor1D;
    const p = smooth(
      softHistogram(tf.reshape(stopGradient(tf.cast(x, 'float32')), [-1]), centers, bandwidth),
    );
    const q = smooth(softHistogram(tf.reshape(tf.cast(xHat, 'float32'), [-1]), centers, bandwidth));
    // p_k log(p_k / q_k). The logs are floored at 1e-30 so that, with ε = 0, a bin empty in both
    // histograms contributes 0·finite = 0 instead of 0·(−∞ + ∞) = NaN (a mask via tf.where would put a
    // gradient-less comparison op on the tape).
    const floor = 1e-30;
    const logRatio = tf.sub(tf.log(tf.maximum(p, floor)), tf.log(tf.maximum(q, floor)));
    return tf.sum(tf.mul(p, logRatio)) as Scalar;
  });
}

// ---------------------------------------------------------------------------------------------
// moments
// ---------------------------------------------------------------------------------------------

/**
 * Moment matching ([GUESS]): `(mean(x̂) − mean(x))² + (std(x̂) − std(x))²`, where mean and the
 * population std (√(var + ε)) are taken over all B·L scores of the batch.
 *
 * @param xHat - synthetic scores x̂, float32 [B,L] (differentiable).
 * @param x - real retriever scores x, float32 [B,L] (treated as constant).
 * @param options - epsilon inside the std's square root (default 1e-8).
 * @returns scalar ≥ 0.
 */
export function momentsDivergence(
  xHat: Tensor2D,
  x: Tensor2D,
  options: MomentsOptions = {},
): Scalar {
  const fn = 'moments';
  checkPair(xHat, x, fn);
  const eps = nonNegative(options.epsilon ?? 1e-8, 'epsilon', fn);
  return tf.tidy(
    () =>
      momentGap(tf.cast(xHat, 'float32'), stopGradient(tf.cast(x, 'float32')), eps, (v) => {
        const { mean, variance } = tf.moments(v);
        return [mean, variance];
      }) as Scalar,
  );
}

/** Mean and (population) variance of a score tensor, over all its elements or a subset. */
type MomentsOf = (v: Tensor) => [Tensor, Tensor];

/** `(mean(x̂) − mean(x))² + (std(x̂) − std(x))²` with std = √(var + ε), moments from `momentsOf`. */
function momentGap(hat: Tensor, real: Tensor, eps: number, momentsOf: MomentsOf): Tensor {
  const [mHat, vHat] = momentsOf(hat);
  const [m, v] = momentsOf(real);
  const sHat = tf.sqrt(tf.add(vHat, eps));
  const s = tf.sqrt(tf.add(v, eps));
  return tf.add(tf.square(tf.sub(mHat, m)), tf.square(tf.sub(sHat, s)));
}

/**
 * Class-conditional moment matching (an option of ours, not the paper's): the {@link momentsDivergence}
 * of the positives' scores plus that of the negatives', i.e.
 * `Σ_{c ∈ {1, 0}} (mean_c(x̂) − mean_c(x))² + (std_c(x̂) − std_c(x))²` over the batch's candidates of
 * label c (a class absent from the batch contributes 0). Unlike the label-blind estimators, it ties
 * how far the synthetic scores separate the classes to how far the real ones do, so an adversarial
 * generator cannot rank negatives above positives (protocol 0b.6) without paying for it.
 *
 * @param xHat - synthetic scores x̂, float32 [B,L] (differentiable).
 * @param x - real retriever scores x, float32 [B,L] (treated as constant).
 * @param options - labels [B,L] (required) and epsilon inside the std's square root (1e-8).
 * @returns scalar ≥ 0.
 */
export function classMomentsDivergence(
  xHat: Tensor2D,
  x: Tensor2D,
  options: ClassMomentsOptions = {},
): Scalar {
  const fn = 'classMoments';
  checkPair(xHat, x, fn);
  const labels = options.labels;
  if (labels === undefined) throw new Error(`${fn}: options.labels [B,L] is required`);
  if (labels.rank !== 2 || labels.shape[0] !== x.shape[0] || labels.shape[1] !== x.shape[1]) {
    throw new Error(`${fn}: labels shape ${shapeStr(labels)} must equal x shape ${shapeStr(x)}`);
  }
  const eps = nonNegative(options.epsilon ?? 1e-8, 'epsilon', fn);
  return tf.tidy(() => {
    const pos = stopGradient(tf.cast(labels, 'float32'));
    const hat = tf.cast(xHat, 'float32');
    const real = stopGradient(tf.cast(x, 'float32'));
    const term = (mask: Tensor): Tensor => {
      const n = tf.sum(mask);
      const count = tf.maximum(n, 1);
      const masked: MomentsOf = (v) => {
        const mean = tf.div(tf.sum(tf.mul(v, mask)), count);
        return [mean, tf.div(tf.sum(tf.mul(tf.square(tf.sub(v, mean)), mask)), count)];
      };
      const present = tf.cast(tf.greater(n, 0), 'float32');
      return tf.mul(present, momentGap(hat, real, eps, masked));
    };
    return tf.add(term(pos), term(tf.sub(1, pos))) as Scalar;
  });
}

// ---------------------------------------------------------------------------------------------
// mmd
// ---------------------------------------------------------------------------------------------

/**
 * `v[idx]` for 1-D `v` and unique int32 indices, with a gradient that works on every backend:
 * forward `gatherND`, backward `scatterND` (tf.gather's gradient needs `UnsortedSegmentSum`, which
 * the wasm backend lacks).
 */
function gather1d(v: Tensor1D, idx: number[]): Tensor1D {
  const n = v.shape[0];
  const indices = tf.tensor2d(idx, [idx.length, 1], 'int32');
  const op = tf.customGrad((t, save) => {
    (save as unknown as (ts: Tensor[]) => void)([indices]);
    return {
      value: tf.gatherND(t as Tensor, indices) as Tensor1D,
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => [
        tf.scatterND(saved[0] as Tensor, dy as Tensor, [n]),
      ],
    };
  });
  return op(v) as Tensor1D;
}

/** `m` distinct indices of [0, n) in random order (partial Fisher-Yates), or all of them when m ≥ n. */
function sampleIndices(n: number, m: number, next: () => number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (m >= n) return all;
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(next() * (n - i));
    const tmp = all[i] as number;
    all[i] = all[j] as number;
    all[j] = tmp;
  }
  return all.slice(0, m);
}

/** Mean of the Gaussian kernel k(a_i, b_j) = exp(−(a_i − b_j)²/(2σ²)) over all pairs. */
function meanKernel(a: Tensor1D, b: Tensor1D, sigma: number): Scalar {
  const d = tf.sub(tf.expandDims(a, 1), tf.expandDims(b, 0));
  return tf.mean(tf.exp(tf.div(tf.square(d), -2 * sigma * sigma))) as Scalar;
}

/**
 * Squared maximum mean discrepancy ([GUESS]) between the flattened score sets, biased (V-statistic)
 * estimator with a Gaussian kernel of fixed bandwidth σ (default 0.1; no median heuristic):
 * `MMD² = mean k(x̂, x̂') + mean k(x, x') − 2·mean k(x̂, x)`, where the means run over all pairs
 * (diagonal included, so identical sets give exactly 0).
 *
 * Cost is O(m²) for m = min(B·L, maxSamples). When B·L > maxSamples, `maxSamples` distinct elements of
 * each set are drawn without replacement by a seeded JavaScript RNG (`createPrng(seed, stream)` of
 * `@dnr/noise`; x̂'s sample is drawn first, then x's), so the value is reproducible on every backend.
 * Non-sampled elements of x̂ get zero gradient in that call.
 *
 * @param xHat - synthetic scores x̂, float32 [B,L] (differentiable).
 * @param x - real retriever scores x, float32 [B,L] (treated as constant).
 * @param options - bandwidth (0.1), maxSamples (1024), seed (required when subsampling), stream (0).
 * @returns scalar MMD² ≥ 0 (up to rounding).
 */
export function mmd(xHat: Tensor2D, x: Tensor2D, options: MmdOptions = {}): Scalar {
  const fn = 'mmd';
  checkPair(xHat, x, fn);
  const sigma = positive(options.bandwidth ?? 0.1, 'bandwidth', fn);
  const maxSamples = integerAtLeast(options.maxSamples ?? 1024, 1, 'maxSamples', fn);
  const stream = integerAtLeast(options.stream ?? 0, 0, 'stream', fn);
  const n = xHat.size;
  let idxHat: number[] | undefined;
  let idxReal: number[] | undefined;
  if (n > maxSamples) {
    const seed = options.seed;
    if (seed === undefined || !Number.isInteger(seed) || seed < 1 || seed > 0xffffffff) {
      throw new RangeError(
        `${fn}: seed must be an integer in [1, 4294967295] when B·L (${n}) > maxSamples (${maxSamples}), got ${String(seed)}`,
      );
    }
    const prng = createPrng(seed, stream);
    const next = (): number => prng.uniform();
    idxHat = sampleIndices(n, maxSamples, next);
    idxReal = sampleIndices(n, maxSamples, next);
  }
  return tf.tidy(() => {
    let a = tf.reshape(tf.cast(xHat, 'float32'), [-1]) as Tensor1D;
    let b = tf.reshape(stopGradient(tf.cast(x, 'float32')), [-1]) as Tensor1D;
    if (idxHat !== undefined && idxReal !== undefined) {
      a = gather1d(a, idxHat);
      b = gather1d(b, idxReal); // gather1d, not gatherND: gatherND has no gradient and b is on the tape when x is
    }
    const kaa = meanKernel(a, a, sigma);
    const kbb = meanKernel(b, b, sigma);
    const kab = meanKernel(a, b, sigma);
    return tf.sub(tf.add(kaa, kbb), tf.mul(kab, 2)) as Scalar;
  });
}

// ---------------------------------------------------------------------------------------------
// Dispatcher
// ---------------------------------------------------------------------------------------------

/**
 * L_x with a pluggable estimator: `scoreDivergence('softmaxKL', x̂, x)` (the default kind in DNR
 * configs), `'histKL'`, `'moments'`, `'mmd'` or `'classMoments'` (needs `labels`), each with its own
 * options.
 *
 * @param kind - which estimator ({@link ScoreDivergenceKind}).
 * @param xHat - synthetic scores x̂, float32 [B,L] (differentiable).
 * @param x - real retriever scores x, float32 [B,L] (treated as constant).
 * @param options - the options of the chosen estimator.
 * @returns scalar divergence.
 * @throws Error for an unknown kind, or the chosen estimator's validation errors.
 */
export function scoreDivergence<K extends ScoreDivergenceKind>(
  kind: K,
  xHat: Tensor2D,
  x: Tensor2D,
  options?: ScoreDivergenceOptionsMap[K],
): Scalar {
  switch (kind) {
    case 'softmaxKL':
      return softmaxKL(xHat, x, options as SoftmaxKLOptions | undefined);
    case 'histKL':
      return histKL(xHat, x, options as HistKLOptions | undefined);
    case 'moments':
      return momentsDivergence(xHat, x, options as MomentsOptions | undefined);
    case 'mmd':
      return mmd(xHat, x, options as MmdOptions | undefined);
    case 'classMoments':
      return classMomentsDivergence(xHat, x, options as ClassMomentsOptions | undefined);
    default:
      throw new Error(
        `scoreDivergence: kind must be one of ${SCORE_DIVERGENCE_KINDS.join(', ')}, got ${JSON.stringify(kind)}`,
      );
  }
}
