import { checkKeys, checkNumber } from './generator.js';
import type { MixKind } from './synthesis.js';
import { mixCoefficients, resolveSynthesisOptions } from './synthesis.js';

/** Options of {@link histogramDensity}. */
export interface HistogramOptions {
  /** Number of equal-width bins (integer >= 1). Default 50. */
  bins?: number;
  /** `[lo, hi]` (lo < hi) covered by the bins; default the finite min / max of `values`. */
  range?: readonly [number, number];
}

/** Output of {@link histogramDensity}. */
export interface HistogramDensity {
  /** Bin centers, length `bins`. */
  centers: Float32Array;
  /** Density per bin: count / (inRange · binWidth), so Σ density·binWidth = 1 (0 if inRange = 0). */
  densities: Float32Array;
  /** Width of every bin. */
  binWidth: number;
  /** Number of finite values inside `range` (the last bin includes `hi`). */
  inRange: number;
  /** Number of values left out (outside `range`, or not finite). */
  outside: number;
  /** The range used. */
  range: [number, number];
}

/**
 * A normalized histogram (density estimate) for diagnostics such as the paper's Figure 5 (learned
 * vs heuristic vs "true" noise densities). Bins are `[lo + i·w, lo + (i+1)·w)`, the last one closed.
 * Values outside the range and non-finite values are left out and counted in `outside`; densities
 * are normalized over the values inside, so they integrate to 1 whenever any value is inside.
 *
 * @param values - samples (e.g. `observedNoise(...)` or a generator's ε via `dataSync()`).
 */
export function histogramDensity(
  values: ArrayLike<number>,
  options: HistogramOptions = {},
): HistogramDensity {
  const owner = 'histogramDensity';
  checkKeys(owner, options, ['bins', 'range']);
  const bins = checkNumber(owner, 'bins', options.bins ?? 50, { min: 1, integer: true });
  let lo: number;
  let hi: number;
  if (options.range !== undefined) {
    const r = options.range;
    if (!Array.isArray(r) || r.length !== 2) {
      throw new RangeError(`${owner}: range must be [lo, hi], got ${JSON.stringify(r)}`);
    }
    lo = checkNumber(owner, 'range[0]', r[0]);
    hi = checkNumber(owner, 'range[1]', r[1], { min: lo, minExclusive: true });
  } else {
    lo = Infinity;
    hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo === Infinity) {
      lo = 0;
      hi = 1;
    } else if (hi === lo) {
      lo -= 0.5;
      hi += 0.5;
    }
  }
  const width = (hi - lo) / bins;
  const counts = new Float64Array(bins);
  let inRange = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v) || v < lo || v > hi) continue;
    const k = Math.min(bins - 1, Math.floor((v - lo) / width));
    counts[k] = (counts[k] as number) + 1;
    inRange += 1;
  }
  const centers = new Float32Array(bins);
  const densities = new Float32Array(bins);
  for (let k = 0; k < bins; k++) {
    centers[k] = lo + (k + 0.5) * width;
    densities[k] = inRange === 0 ? 0 : (counts[k] as number) / (inRange * width);
  }
  return {
    centers,
    densities,
    binWidth: width,
    inRange,
    outside: values.length - inRange,
    range: [lo, hi],
  };
}

/**
 * The "true" noise implied by real data (protocol §1.4): Eq. 4 inverted per candidate,
 * linear `ε* = (x - (1 - α)·y) / α`, sqrt `ε* = (x - √(1 - α)·y) / √α`.
 *
 * @param scores - real retriever scores x (length n).
 * @param labels - labels y (length n).
 * @param alpha - noise proportion in (0, 1).
 * @param mix - `'linear'` (default) or `'sqrt'`.
 * @returns a new Float32Array of length n.
 */
export function observedNoise(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  alpha: number,
  mix: MixKind = 'linear',
): Float32Array {
  if (scores.length !== labels.length) {
    throw new RangeError(
      `observedNoise: scores and labels must have the same length, got ${scores.length} and ${labels.length}`,
    );
  }
  const r = resolveSynthesisOptions({ alpha, mix }, 'observedNoise');
  const { labelWeight, noiseWeight } = mixCoefficients(r.alpha, r.mix);
  const out = new Float32Array(scores.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = ((scores[i] as number) - labelWeight * (labels[i] as number)) / noiseWeight;
  }
  return out;
}
