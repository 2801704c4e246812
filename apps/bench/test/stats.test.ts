import { describe, expect, it } from 'vitest';
import { mean, oneSampleTTest, pairedTTest, sampleStd, twoSidedP } from '../src/stats';

// Hand derivations used below.
// df = 2: P(T <= t) = 1/2 + t / (2 sqrt(2 + t^2)), so the two-sided p = 1 - |t| / sqrt(2 + t^2).
//   differences [1, 2, 3]: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 2 sqrt 3 = 3.464102;
//   t^2 = 12, sqrt(14) = 3.741657, p = 1 - 3.464102 / 3.741657 = 1 - 0.925820 = 0.074180.
// df = 1 (Cauchy): P(T <= t) = 1/2 + atan(t) / pi, so p = 1 - (2 / pi) atan(|t|).
//   differences [1, 3]: mean 2, sd sqrt 2, t = 2 / (sqrt 2 / sqrt 2) = 2;
//   atan 2 = 1.107149, p = 1 - 0.636620 * 1.107149 = 0.295167.
const pDf2 = (t: number): number => 1 - Math.abs(t) / Math.sqrt(2 + t * t);

describe('mean and sampleStd', () => {
  it('match hand values', () => {
    expect(mean([1, 2, 3])).toBe(2);
    expect(sampleStd([1, 2, 3])).toBe(1);
    expect(sampleStd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(mean([])).toBeNaN();
    expect(sampleStd([5])).toBeNaN();
  });
});

describe('pairedTTest', () => {
  it('differences [1, 2, 3]: meanDiff 2, t = 2 sqrt 3, df 2, p = 0.0742', () => {
    const r = pairedTTest([2, 4, 6], [1, 2, 3]);
    expect(r.n).toBe(3);
    expect(r.meanDiff).toBe(2);
    expect(r.sdDiff).toBe(1);
    expect(r.t).toBeCloseTo(3.464102, 6);
    expect(r.t).toBeCloseTo(2 * Math.sqrt(3), 12);
    expect(r.df).toBe(2);
    expect(r.p).toBeCloseTo(0.07418, 5);
    expect(r.p).toBeCloseTo(pDf2(r.t), 12);
  });

  it('is antisymmetric in its arguments: t changes sign, p stays', () => {
    const ab = pairedTTest([2, 4, 6], [1, 2, 3]);
    const ba = pairedTTest([1, 2, 3], [2, 4, 6]);
    expect(ba.meanDiff).toBe(-2);
    expect(ba.t).toBeCloseTo(-ab.t, 12);
    expect(ba.p).toBeCloseTo(ab.p, 12);
  });

  it('df 1 agrees with the Cauchy closed form', () => {
    const r = pairedTTest([1, 3], [0, 0]);
    expect(r.t).toBeCloseTo(2, 12);
    expect(r.df).toBe(1);
    expect(r.p).toBeCloseTo(0.295167, 6);
  });

  it('the t CDF from jstat matches the df-2 closed form over a range of t', () => {
    for (const t of [0, 0.1, 0.5, 1, 2.5, 4.303, 10, 50]) {
      expect(twoSidedP(t, 2)).toBeCloseTo(pDf2(t), 10);
      expect(twoSidedP(-t, 2)).toBeCloseTo(pDf2(t), 10);
    }
    expect(twoSidedP(0, 2)).toBe(1);
    // the 97.5% quantile of t with 10 df is 2.228139: two-sided p = 0.05
    expect(twoSidedP(2.228139, 10)).toBeCloseTo(0.05, 6);
  });

  it('zero variance: a constant non-zero shift gives t = ±Infinity and p 0; no difference gives p 1', () => {
    const up = pairedTTest([0.3, 0.5, 0.8], [0.2, 0.4, 0.7]);
    // in floating point 0.3 - 0.2 = 0.5 - 0.4 = 0.09999999999999998 but 0.8 - 0.7 =
    // 0.10000000000000009: not zero variance but an ordinary, huge t; p is still ~ 0
    expect(up.sdDiff).toBeGreaterThan(0);
    expect(up.p).toBeLessThan(1e-6);
    const exact = pairedTTest([3, 4, 5], [2, 3, 4]);
    expect(exact).toEqual({ n: 3, meanDiff: 1, sdDiff: 0, t: Infinity, df: 2, p: 0 });
    const down = pairedTTest([1, 2, 3], [2, 3, 4]);
    expect(down.t).toBe(-Infinity);
    expect(down.p).toBe(0);
    const same = pairedTTest([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]);
    expect(same.meanDiff).toBe(0);
    expect(same.t).toBeNaN();
    expect(same.p).toBe(1);
  });

  it('n < 2 is undefined: t and p NaN, df 0', () => {
    const one = pairedTTest([3], [1]);
    expect(one.n).toBe(1);
    expect(one.meanDiff).toBe(2);
    expect(one.df).toBe(0);
    expect(one.t).toBeNaN();
    expect(one.p).toBeNaN();
    const none = pairedTTest([], []);
    expect(none.n).toBe(0);
    expect(none.meanDiff).toBeNaN();
    expect(none.p).toBeNaN();
  });

  it('drops pairs with a non-finite side and tests the rest', () => {
    const r = pairedTTest([2, Number.NaN, 4, 6, 1], [1, 5, 2, 3, Infinity]);
    expect(r.n).toBe(3);
    expect(r.meanDiff).toBe(2);
    expect(r.p).toBeCloseTo(pDf2(2 * Math.sqrt(3)), 12);
    // every pair dropped: undefined
    expect(pairedTTest([Number.NaN, 1], [0, Number.NaN]).p).toBeNaN();
  });

  it('rejects samples of different lengths', () => {
    expect(() => pairedTTest([1, 2, 3], [1, 2])).toThrow(/equal length \(got 3 and 2\)/);
  });
});

describe('oneSampleTTest', () => {
  it('tests x - mu like the paired test of the differences', () => {
    const r = oneSampleTTest([3, 4, 5], 2);
    expect(r.meanDiff).toBe(2);
    expect(r.t).toBeCloseTo(2 * Math.sqrt(3), 12);
    expect(r.p).toBeCloseTo(0.07418, 5);
    expect(oneSampleTTest([2, 2, 2], 2).p).toBe(1);
    expect(oneSampleTTest([1, 1, 1], 2).t).toBe(-Infinity);
    expect(oneSampleTTest([1, 2, 3], Number.NaN).n).toBe(0);
    expect(oneSampleTTest([1, Number.NaN, 2, 3], 0).n).toBe(3);
  });
});
