/**
 * Pooled (global) AUC: the Mann-Whitney statistic over rows of any number of lists.
 *
 * - {@link exactPooledAuc}: exact, by sorting the positive and the negative scores separately
 *   (two `Float64Array` sorts) and merging; `O(n log n)` time and `O(n)` memory.
 * - {@link AucHistogram}: bounded memory for the streaming accumulator (see its TSDoc for the
 *   binning and the error bound it reports).
 *
 * @internal Not exported from the package entry (the public forms are `auc`, `evaluateLists`
 * and the accumulator).
 */
import type { LabelArray, ScoreArray } from './types';

/**
 * Exact Mann-Whitney AUC of rows `start .. end - 1`: the fraction of (positive, negative) pairs
 * in which the positive scores higher, ties counting 1/2. `NaN` when either class is absent.
 *
 * `U` is a multiple of 1/2 and is summed exactly in float64 (below 2^52 pairs), so this equals,
 * bit for bit, the same statistic computed by any other exact method.
 */
export function exactPooledAuc(
  scores: ScoreArray,
  labels: LabelArray,
  start: number,
  end: number,
): number {
  let npos = 0;
  for (let i = start; i < end; i++) if (labels[i] === 1) npos++;
  const nneg = end - start - npos;
  if (npos === 0 || nneg === 0) return Number.NaN;
  const pos = new Float64Array(npos);
  const neg = new Float64Array(nneg);
  let a = 0;
  let b = 0;
  for (let i = start; i < end; i++) {
    const v = scores[i]! + 0; // -0 -> +0: the typed-array sort orders -0 before +0.
    if (labels[i] === 1) pos[a++] = v;
    else neg[b++] = v;
  }
  pos.sort();
  neg.sort();
  let u = 0;
  let j = 0; // negatives strictly below the current positive value
  let i = 0;
  while (i < npos) {
    const v = pos[i]!;
    let g = 0;
    while (i < npos && pos[i] === v) {
      g++;
      i++;
    }
    while (j < nneg && neg[j]! < v) j++;
    let e = j;
    while (e < nneg && neg[e] === v) e++;
    u += g * (j + 0.5 * (e - j));
    j = e;
  }
  return u / (npos * nneg);
}

/** Default number of key bits of {@link AucHistogram} (2^18 bins, 12 MiB). */
export const DEFAULT_AUC_HISTOGRAM_BITS = 18;
/** Smallest and largest accepted `aucHistogramBits`. */
export const MIN_AUC_HISTOGRAM_BITS = 8;
export const MAX_AUC_HISTOGRAM_BITS = 20;

/**
 * A fixed-size, order-preserving histogram of scores per class for a pooled AUC in bounded
 * memory.
 *
 * Binning: each score is rounded to float32 and its bit pattern mapped to an unsigned 32-bit
 * key that sorts like the value (negative floats: all bits flipped; non-negative: sign bit set);
 * the bin is the top `bits` bits of the key. The map is monotone, so a positive in a higher bin
 * than a negative truly scores higher, and no configuration of a score range is needed. With
 * `bits = 18` the bin holds 1 sign bit, 8 exponent bits and 9 mantissa bits: inside every
 * power-of-two interval `[2^e, 2^(e+1))` there are 512 bins of width `2^(e-9)`, so scores in one
 * bin differ by less than 0.2 % of their magnitude.
 *
 * Per bin and class it keeps the count and the exact (float64) minimum and maximum score. Pairs
 * from different bins are counted exactly. Within a bin holding both classes the pairs are
 * counted exactly when the two classes' score ranges do not overlap (all negatives below all
 * positives: 1 each; above: 0) or when every score in the bin is the same value (1/2 each);
 * otherwise each such pair is counted 1/2 while its true value is 0, 1/2 or 1. Hence
 *
 *     |AUC_histogram - AUC_exact| <= sum over unresolved bins of (pos_b * neg_b) / (2 * P * N),
 *
 * which {@link compute} returns as `maxError` (0 means the result is exact). In particular the
 * result is exact when every bin holding both classes holds a single score value or
 * non-interleaved classes, e.g. for scores drawn from a small set of values that are more than
 * one bin apart (about 0.2 % relative at 18 bits). Scores beyond the float32 range (|x| >
 * 3.4e38) all share the outermost bins; their exact min/max still resolve non-interleaved cases.
 */
export class AucHistogram {
  readonly bits: number;
  private readonly shift: number;
  private readonly posCount: Float64Array;
  private readonly negCount: Float64Array;
  private readonly posMin: Float64Array;
  private readonly posMax: Float64Array;
  private readonly negMin: Float64Array;
  private readonly negMax: Float64Array;
  private readonly f32 = new Float32Array(1);
  private readonly u32 = new Uint32Array(this.f32.buffer);
  positives = 0;
  negatives = 0;

  constructor(bits: number) {
    this.bits = bits;
    this.shift = 32 - bits;
    const size = 2 ** bits;
    this.posCount = new Float64Array(size);
    this.negCount = new Float64Array(size);
    this.posMin = new Float64Array(size);
    this.posMax = new Float64Array(size);
    this.negMin = new Float64Array(size);
    this.negMax = new Float64Array(size);
  }

  /** Bin of a finite score (monotone non-decreasing in the score). */
  binOf(score: number): number {
    this.f32[0] = score + 0;
    const raw = this.u32[0]!;
    const key = raw >= 0x80000000 ? ~raw >>> 0 : (raw | 0x80000000) >>> 0;
    return key >>> this.shift;
  }

  /** Adds rows `start .. end - 1` (validated: finite scores, 0/1 labels). */
  addRows(scores: ScoreArray, labels: LabelArray, start: number, end: number): void {
    for (let i = start; i < end; i++) {
      const v = scores[i]! + 0;
      const bin = this.binOf(v);
      if (labels[i] === 1) {
        const c = this.posCount[bin]!;
        if (c === 0) {
          this.posMin[bin] = v;
          this.posMax[bin] = v;
        } else if (v < this.posMin[bin]!) this.posMin[bin] = v;
        else if (v > this.posMax[bin]!) this.posMax[bin] = v;
        this.posCount[bin] = c + 1;
        this.positives++;
      } else {
        const c = this.negCount[bin]!;
        if (c === 0) {
          this.negMin[bin] = v;
          this.negMax[bin] = v;
        } else if (v < this.negMin[bin]!) this.negMin[bin] = v;
        else if (v > this.negMax[bin]!) this.negMax[bin] = v;
        this.negCount[bin] = c + 1;
        this.negatives++;
      }
    }
  }

  /** Empties the histogram. */
  reset(): void {
    this.posCount.fill(0);
    this.negCount.fill(0);
    this.positives = 0;
    this.negatives = 0;
  }

  /**
   * The pooled AUC and its worst-case absolute error (see the class TSDoc). Both are `NaN`
   * when either class is absent. `O(2^bits)`.
   */
  compute(): { auc: number; maxError: number } {
    const P = this.positives;
    const N = this.negatives;
    if (P === 0 || N === 0) return { auc: Number.NaN, maxError: Number.NaN };
    let u = 0;
    let err = 0;
    let negBelow = 0;
    const size = this.posCount.length;
    for (let b = 0; b < size; b++) {
      const p = this.posCount[b]!;
      const q = this.negCount[b]!;
      if (p === 0) {
        negBelow += q;
        continue;
      }
      u += p * negBelow;
      if (q > 0) {
        const pMin = this.posMin[b]!;
        const pMax = this.posMax[b]!;
        const nMin = this.negMin[b]!;
        const nMax = this.negMax[b]!;
        if (nMax < pMin) u += p * q;
        else if (pMax < nMin) {
          // every negative of the bin beats every positive: adds 0
        } else {
          u += 0.5 * p * q;
          if (!(pMin === pMax && nMin === nMax && pMin === nMin)) err += 0.5 * p * q;
        }
      }
      negBelow += q;
    }
    return { auc: u / (P * N), maxError: err / (P * N) };
  }
}
