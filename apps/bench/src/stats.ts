import jStat from 'jstat';

/**
 * Student t-tests for comparing methods over seeds (two-sided).
 *
 * Rules, applied in this order:
 * - Pairs (or values) where either side is not a finite number (NaN, ±Infinity, as a metric that
 *   is undefined for a run) are dropped, like R's `t.test` on complete cases; `n` counts the
 *   pairs that remain.
 * - n < 2: the test is undefined: `t` and `p` are NaN, `df` is 0 (`meanDiff` is the single
 *   difference for n = 1, NaN for n = 0).
 * - All differences equal (zero sample variance): if they are all 0, the samples agree exactly
 *   and `t` is NaN with `p = 1`; otherwise every pair differs by the same non-zero amount, `t` is
 *   ±Infinity and `p = 0`.
 * - Otherwise t = mean(d) / (sd(d) / sqrt(n)) with df = n - 1, and p = 2 P(T <= -|t|) (computed
 *   from the lower tail so that small p keeps its precision).
 */
export interface TTestResult {
  /** Number of (complete) pairs or values used. */
  readonly n: number;
  /** Mean difference (a - b for the paired test, x - mu for the one-sample test). */
  readonly meanDiff: number;
  /** Sample standard deviation of the differences (NaN for n < 2). */
  readonly sdDiff: number;
  readonly t: number;
  readonly df: number;
  /** Two-sided p-value. */
  readonly p: number;
}

/** Arithmetic mean (NaN for no values). */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Sample standard deviation (n - 1 in the denominator; NaN for fewer than 2 values). */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return Number.NaN;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (values.length - 1));
}

/** Two-sided p-value of Student's t with `df` degrees of freedom. */
export function twoSidedP(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (!Number.isFinite(t)) return 0;
  const lower = jStat.studentt.cdf(-Math.abs(t), df);
  return Math.min(1, Math.max(0, 2 * lower));
}

function testDifferences(diffs: readonly number[]): TTestResult {
  const n = diffs.length;
  const meanDiff = mean(diffs);
  if (n < 2) return { n, meanDiff, sdDiff: Number.NaN, t: Number.NaN, df: 0, p: Number.NaN };
  const df = n - 1;
  const first = diffs[0]!;
  if (diffs.every((d) => d === first)) {
    // zero variance: identical samples (p = 1) or a constant non-zero shift (p = 0)
    return first === 0
      ? { n, meanDiff: 0, sdDiff: 0, t: Number.NaN, df, p: 1 }
      : { n, meanDiff: first, sdDiff: 0, t: first > 0 ? Infinity : -Infinity, df, p: 0 };
  }
  const sdDiff = sampleStd(diffs);
  const t = meanDiff / (sdDiff / Math.sqrt(n));
  return { n, meanDiff, sdDiff, t, df, p: twoSidedP(t, df) };
}

/**
 * Paired two-sided t-test of `a` against `b` (a[i] and b[i] are one pair, e.g. the same seed):
 * H0 mean(a - b) = 0. Throws when the lengths differ. See {@link TTestResult} for the rules on
 * non-finite values, n < 2 and zero variance.
 */
export function pairedTTest(a: readonly number[], b: readonly number[]): TTestResult {
  if (a.length !== b.length) {
    throw new RangeError(
      `pairedTTest needs samples of equal length (got ${a.length} and ${b.length})`,
    );
  }
  const diffs: number[] = [];
  a.forEach((x, i) => {
    const y = b[i]!;
    if (Number.isFinite(x) && Number.isFinite(y)) diffs.push(x - y);
  });
  return testDifferences(diffs);
}

/**
 * One-sample two-sided t-test of `x` against the constant `mu` (H0 mean(x) = mu), for a
 * deterministic reference that has the same value at every seed. Same rules as
 * {@link pairedTTest}; a non-finite `mu` leaves no complete values (n = 0).
 */
export function oneSampleTTest(x: readonly number[], mu: number): TTestResult {
  const diffs = Number.isFinite(mu) ? x.filter((v) => Number.isFinite(v)).map((v) => v - mu) : [];
  return testDifferences(diffs);
}
