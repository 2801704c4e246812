import { describe, expect, it } from 'vitest';
import {
  auc,
  createListMetricsAccumulator,
  createListMetricsAccumulatorAtKs,
  DEFAULT_AUC_HISTOGRAM_BITS,
  evaluateLists,
  evaluateListsAtKs,
} from '../src/index';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lists of `listSize` with ~10 % positives whose scores are shifted up (continuous float32). */
function continuousLists(lists: number, listSize: number, seed: number) {
  const rand = mulberry32(seed);
  const n = lists * listSize;
  const scores = new Float32Array(n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const y = rand() < 0.1 ? 1 : 0;
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    labels[i] = y;
    scores[i] = g + y;
  }
  return { scores, labels };
}

describe('createListMetricsAccumulator', () => {
  it('equals evaluateLists bit for bit on per-list metrics, whatever the batch split', () => {
    const listSize = 50;
    const { scores, labels } = continuousLists(2000, listSize, 11);
    const full = evaluateLists({ scores, labels, listSize, k: 6 });
    for (const batchLists of [1, 7, 256, 2000]) {
      const acc = createListMetricsAccumulator({ listSize, k: 6 });
      for (let l = 0; l < 2000; l += batchLists) {
        const end = Math.min(2000, l + batchLists) * listSize;
        acc.add(scores.subarray(l * listSize, end), labels.subarray(l * listSize, end));
      }
      const got = acc.result();
      expect(got.hr).toBe(full.hr);
      expect(got.ndcg).toBe(full.ndcg);
      expect(got.map).toBe(full.map);
      expect(got.f1).toBe(full.f1);
      expect(got.auc).toBe(full.auc);
      expect(got.lists).toBe(full.lists);
      const { aucGlobalMaxError, rows, listsSeen } = acc.stats();
      expect(rows).toBe(100_000);
      expect(listsSeen).toBe(2000);
      // continuous scores: the histogram is close to exact and within its reported bound
      expect(aucGlobalMaxError).toBeLessThan(5e-4);
      expect(Math.abs(got.aucGlobal - full.aucGlobal)).toBeLessThanOrEqual(aucGlobalMaxError);
    }
  });

  it('is exact (bound 0) for scores from a small set of distinct-bin values, -0 included', () => {
    const rand = mulberry32(3);
    const values = [-3, -0.5, -0, 0, 0.5, 1, 1e30];
    const n = 40 * 10;
    const scores = Array.from({ length: n }, () => values[Math.floor(rand() * values.length)]!);
    const labels = Array.from({ length: n }, () => (rand() < 0.3 ? 1 : 0));
    // default 18 bits: these values fall into distinct bins (0.5 and 1 would share a bin at 8 bits)
    const acc = createListMetricsAccumulator({ listSize: 10, k: 3 });
    acc.add(scores.slice(0, 170), labels.slice(0, 170));
    acc.add(scores.slice(170), labels.slice(170));
    expect(acc.stats().aucGlobalMaxError).toBe(0);
    expect(acc.result()).toEqual(evaluateLists({ scores, labels, listSize: 10, k: 3 }));
  });

  it('resolves a shared bin by its per-class min/max when the classes do not interleave', () => {
    // 1e300 and 1e299 both round to float32 Infinity: one bin, but every negative is below.
    const acc = createListMetricsAccumulator({ listSize: 2, k: 1 });
    acc.add([1e300, 1e299, 1e299, 1e300], [1, 0, 0, 1]);
    expect(acc.result().aucGlobal).toBe(1);
    expect(acc.stats().aucGlobalMaxError).toBe(0);
  });

  it('reports a bound that covers an interleaved bin (hand-computed)', () => {
    // With 8 key bits a bin spans a whole power of two: 1.0, 1.1, 1.3, 1.4 share a bin.
    const scores = [1.0, 1.1, 1.3, 1.4];
    const labels = [1, 0, 1, 1];
    const coarse = createListMetricsAccumulator({ listSize: 4, k: 1, aucHistogramBits: 8 });
    coarse.add(scores, labels);
    // exact: 2 of 3 pairs won; histogram: 3 pairs at 1/2 each, each possibly off by 1/2
    expect(auc(scores, labels)).toBeCloseTo(2 / 3, 15);
    expect(coarse.result().aucGlobal).toBe(0.5);
    expect(coarse.stats().aucGlobalMaxError).toBe(0.5);
    const fine = createListMetricsAccumulator({ listSize: 4, k: 1, aucHistogramBits: 20 });
    fine.add(scores, labels);
    expect(fine.result().aucGlobal).toBe(auc(scores, labels));
    expect(fine.stats().aucGlobalMaxError).toBe(0);
  });

  it('starts empty (NaN metrics), rejects a bad batch atomically, and resets', () => {
    const acc = createListMetricsAccumulator({ listSize: 2, k: 1 });
    expect(acc.listSize).toBe(2);
    expect(acc.result()).toEqual({
      hr: NaN,
      ndcg: NaN,
      map: NaN,
      f1: NaN,
      auc: NaN,
      aucGlobal: NaN,
      lists: 0,
    });
    acc.add([], []);
    acc.add([2, 1, 0, 0], [1, 0, 0, 0]);
    const before = acc.result();
    const statsBefore = acc.stats();
    // the bad label sits in the second list: the first list must not have been added
    expect(() => acc.add([1, 2, 3, 4], [1, 0, 0, 5])).toThrow(RangeError);
    expect(acc.result()).toEqual(before);
    expect(acc.stats()).toEqual(statsBefore);
    expect(statsBefore).toEqual({
      rows: 4,
      listsSeen: 2,
      listsWithPositives: 1,
      aucLists: 1,
      positives: 1,
      aucGlobalMaxError: 0,
    });
    expect(before).toEqual({ hr: 1, ndcg: 1, map: 1, f1: 1, auc: 1, aucGlobal: 1, lists: 1 });
    acc.reset();
    expect(acc.result().lists).toBe(0);
    expect(acc.stats().rows).toBe(0);
    acc.add([0, 1], [1, 0]);
    expect(acc.result()).toEqual({ hr: 0, ndcg: 0, map: 0, f1: 0, auc: 0, aucGlobal: 0, lists: 1 });
  });

  it('the AtKs form matches evaluateListsAtKs', () => {
    const { scores, labels } = continuousLists(300, 20, 5);
    const ks = [1, 6, 25];
    const acc = createListMetricsAccumulatorAtKs({ listSize: 20, ks });
    acc.add(scores.subarray(0, 2000), labels.subarray(0, 2000));
    acc.add(scores.subarray(2000), labels.subarray(2000));
    const want = evaluateListsAtKs({ scores, labels, listSize: 20, ks });
    const got = acc.result();
    expect(got).toHaveLength(3);
    got.forEach((m, t) => {
      expect({ ...m, aucGlobal: 0 }).toEqual({ ...want[t]!, aucGlobal: 0 });
      expect(Math.abs(m.aucGlobal - want[t]!.aucGlobal)).toBeLessThanOrEqual(
        acc.stats().aucGlobalMaxError,
      );
    });
    expect(DEFAULT_AUC_HISTOGRAM_BITS).toBe(18);
  });
});
