import { describe, expect, it } from 'vitest';
import {
  auc,
  evaluateLists,
  evaluateListsAtKs,
  f1AtK,
  hitRatioAtK,
  mapAtK,
  ndcgAtK,
} from '../src/index';

const LOG2_3 = Math.log2(3);
/** IDCG of two hits: 1/log2(2) + 1/log2(3). */
const IDCG2 = 1 + 1 / LOG2_3;

function one(scores: number[], labels: number[], k: number) {
  return evaluateLists({ scores, labels, listSize: scores.length, k });
}

describe('one list, hand-computed', () => {
  // Order 0,1,2,3,4 -> ranked labels [1,0,1,0,0]; npos = 2.
  const scores = [0.9, 0.8, 0.7, 0.6, 0.5];
  const labels = [1, 0, 1, 0, 0];

  it('k = 2: one hit of two', () => {
    const m = one(scores, labels, 2);
    expect(m.hr).toBeCloseTo(0.5, 15);
    expect(m.f1).toBeCloseTo(0.5, 15); // P = R = 1/2
    expect(m.ndcg).toBeCloseTo(1 / IDCG2, 15); // DCG = 1, IDCG over min(2,2) = 2 hits
    expect(m.map).toBeCloseTo(1 / 2, 15); // (1/1) / min(2, 2)
    // positives 0.9 and 0.7 vs negatives 0.8, 0.6, 0.5: 3 + 2 wins of 6 pairs
    expect(m.auc).toBeCloseTo(5 / 6, 15);
    expect(m.aucGlobal).toBeCloseTo(5 / 6, 15);
    expect(m.lists).toBe(1);
  });

  it('k = 3: both hits, MAP divided by min(npos, k)', () => {
    const m = one(scores, labels, 3);
    expect(m.hr).toBeCloseTo(2 / 3, 15);
    expect(m.f1).toBeCloseTo(0.8, 15); // P = 2/3, R = 1
    expect(m.ndcg).toBeCloseTo((1 + 1 / 2) / IDCG2, 15); // hits at ranks 1 and 3
    expect(m.map).toBeCloseTo((1 / 1 + 2 / 3) / 2, 15);
  });

  it('k = 1', () => {
    const m = one(scores, labels, 1);
    expect(m.hr).toBe(1);
    expect(m.ndcg).toBe(1); // IDCG over min(2, 1) = 1 hit
    expect(m.map).toBe(1);
    expect(m.f1).toBeCloseTo(2 / 3, 15); // P = 1, R = 1/2
  });

  it('MAP counts missed positives (denominator min(npos, k), not hits)', () => {
    // ranked labels [1,0,1,0,1,0], npos = 3, k = 3: (1/1 + 2/3) / 3, not / 2
    const m = one([6, 5, 4, 3, 2, 1], [1, 0, 1, 0, 1, 0], 3);
    expect(m.map).toBeCloseTo((1 + 2 / 3) / 3, 15);
    // NDCG at k = 2 with npos = 4: ideal has min(4, 2) = 2 hits
    const n = one([6, 5, 4, 3, 2, 1], [0, 1, 1, 1, 1, 0], 2);
    expect(n.ndcg).toBeCloseTo(1 / LOG2_3 / IDCG2, 15);
    expect(n.hr).toBeCloseTo(0.5, 15);
    expect(n.f1).toBeCloseTo((2 * 1) / (2 + 4), 15); // P = 1/2, R = 1/4
  });
});

describe('ties are broken by the lower original index', () => {
  it('all scores equal: the ranking is the input order', () => {
    const miss = one([0.5, 0.5, 0.5], [0, 1, 0], 1);
    expect([miss.hr, miss.ndcg, miss.map, miss.f1]).toEqual([0, 0, 0, 0]);
    expect(miss.auc).toBe(0.5); // the positive ties with both negatives
    const hit = one([0.5, 0.5, 0.5], [1, 0, 0], 1);
    expect([hit.hr, hit.ndcg, hit.map, hit.f1]).toEqual([1, 1, 1, 1]);
    expect(hit.auc).toBe(0.5);
  });

  it('ties inside the ranking', () => {
    // order: idx1 (0.9), idx3 (0.9), idx0 (0.2), idx2 (0.2) -> ranked labels [0,1,0,1]
    const m = one([0.2, 0.9, 0.2, 0.9], [0, 0, 1, 1], 2);
    expect(m.hr).toBeCloseTo(0.5, 15);
    expect(m.ndcg).toBeCloseTo(1 / LOG2_3 / IDCG2, 15);
    expect(m.map).toBeCloseTo(1 / 2 / 2, 15);
    expect(m.f1).toBeCloseTo(0.5, 15);
    // pairs: (.2,.2) 1/2, (.2,.9) 0, (.9,.2) 1, (.9,.9) 1/2
    expect(m.auc).toBeCloseTo(0.5, 15);
  });

  it('a tie across the cut-off keeps the lower index inside the top k', () => {
    // idx0 and idx1 tie at 0.7; the positive is idx1, so it falls out of the top 2
    const m = one([0.7, 0.7, 0.9, 0.1], [0, 1, 0, 0], 2);
    expect(m.hr).toBe(0);
    const swapped = one([0.7, 0.7, 0.9, 0.1], [1, 0, 0, 0], 2);
    expect(swapped.hr).toBe(0.5);
    expect(swapped.ndcg).toBeCloseTo(1 / LOG2_3, 15);
  });

  it('-0 and +0 are one tied value', () => {
    expect(auc([-0, 0], [1, 0])).toBe(0.5);
    expect(auc([0, -0], [1, 0])).toBe(0.5);
    expect(hitRatioAtK([-0, 0], [0, 1], 1)).toBe(0); // tie -> index 0 first
  });
});

describe('AUC with ties (Mann-Whitney, ties count 1/2)', () => {
  it('hand-computed values', () => {
    expect(auc([1, 1, 0, 0], [1, 0, 1, 0])).toBe(0.5); // 1/2 + 1 + 0 + 1/2 over 4
    expect(auc([2, 1, 1, 0], [1, 1, 0, 0])).toBe(3.5 / 4); // 2 + (1/2 + 1)
    expect(auc([3, 2, 1], [1, 1, 0])).toBe(1);
    expect(auc([1, 2, 3], [1, 1, 0])).toBe(0);
  });

  it('is NaN with one class only', () => {
    expect(auc([1, 2], [1, 1])).toBeNaN();
    expect(auc([1, 2], [0, 0])).toBeNaN();
  });
});

describe('lists without positives, all-positive lists, k > listSize', () => {
  it('an all-positive list counts for hr/ndcg/map/f1 but not for auc', () => {
    const m = one([3, 1, 2], [1, 1, 1], 2);
    expect(m.hr).toBe(1);
    expect(m.ndcg).toBeCloseTo(1, 15);
    expect(m.map).toBe(1);
    expect(m.f1).toBeCloseTo(0.8, 15); // P = 1, R = 2/3
    expect(m.auc).toBeNaN();
    expect(m.aucGlobal).toBeNaN();
    expect(m.lists).toBe(1);
    expect(auc([3, 1, 2], [1, 1, 1])).toBeNaN();
  });

  it('only lists without positives: every average is NaN and lists = 0', () => {
    const m = evaluateLists({ scores: [1, 2, 3, 4], labels: [0, 0, 0, 0], listSize: 2, k: 1 });
    expect(m).toEqual({
      hr: NaN,
      ndcg: NaN,
      map: NaN,
      f1: NaN,
      auc: NaN,
      aucGlobal: NaN,
      lists: 0,
    });
    expect(hitRatioAtK([1, 2], [0, 0], 1)).toBeNaN();
    expect(ndcgAtK([1, 2], [0, 0], 1)).toBeNaN();
    expect(mapAtK([1, 2], [0, 0], 1)).toBeNaN();
    expect(f1AtK([1, 2], [0, 0], 1)).toBeNaN();
  });

  it('k > listSize: the top k is the whole list and hr still divides by k', () => {
    // order idx1, idx2, idx0 -> ranked labels [1,0,0]
    const m = one([0.1, 0.4, 0.3], [0, 1, 0], 5);
    expect(m.hr).toBeCloseTo(1 / 5, 15);
    expect(m.ndcg).toBe(1); // IDCG over min(1, 5) = 1 hit
    expect(m.map).toBe(1);
    expect(m.f1).toBeCloseTo(1 / 3, 15); // P = 1/5, R = 1
    // an all-positive list of 3 still has hr = 3/5 < 1
    expect(one([1, 2, 3], [1, 1, 1], 5).hr).toBeCloseTo(3 / 5, 15);
    expect(one([1, 2, 3], [1, 1, 1], 5).ndcg).toBeCloseTo(1, 15);
  });
});

describe('many lists: macro averaging', () => {
  // listSize 3; L2 has no positive (excluded), L4 is all positive (no per-list AUC).
  const scores = [0.9, 0.1, 0.5, 0.2, 0.2, 0.2, 1, 2, 3, 0, 0, 0];
  const labels = [0, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 1];

  it('averages over the lists with a positive', () => {
    const m = evaluateLists({ scores, labels, listSize: 3, k: 1 });
    // L1 top1 = idx0 (neg): all 0. L3 top1 = score 3 (pos): 1,1,1, f1 2/3. L4 top1 pos: f1 2/4.
    expect(m.lists).toBe(3);
    expect(m.hr).toBeCloseTo(2 / 3, 15);
    expect(m.ndcg).toBeCloseTo(2 / 3, 15);
    expect(m.map).toBeCloseTo(2 / 3, 15);
    expect(m.f1).toBeCloseTo((0 + 2 / 3 + 1 / 2) / 3, 15);
    // per-list AUC: L1 0 (both positives below 0.9), L3 1/2; L2 and L4 lack a class
    expect(m.auc).toBeCloseTo(0.25, 15);
    // pooled: P = 7, N = 5; wins 0 + 3 + 4 + 5 + 0 + 0 + 0 = 12
    expect(m.aucGlobal).toBeCloseTo(12 / 35, 15);
    expect(m.aucGlobal).toBe(auc(scores, labels));
  });

  it('one list gives that list value; the single-list functions agree', () => {
    const s = scores.slice(6, 9);
    const y = labels.slice(6, 9);
    const m = evaluateLists({ scores: s, labels: y, listSize: 3, k: 2 });
    expect(hitRatioAtK(s, y, 2)).toBe(m.hr);
    expect(ndcgAtK(s, y, 2)).toBe(m.ndcg);
    expect(mapAtK(s, y, 2)).toBe(m.map);
    expect(f1AtK(s, y, 2)).toBe(m.f1);
    expect(auc(s, y)).toBe(m.auc);
    // ranked labels [1,0,1]: hr 1/2, ndcg 1/IDCG2, map (1)/2, f1 2/(2+2)
    expect(m.hr).toBe(0.5);
    expect(m.ndcg).toBeCloseTo(1 / IDCG2, 15);
    expect(m.map).toBe(0.5);
    expect(m.f1).toBe(0.5);
  });

  it('accepts typed arrays and gives the same numbers', () => {
    const a = evaluateLists({ scores, labels, listSize: 3, k: 2 });
    const b = evaluateLists({
      scores: Float64Array.from(scores),
      labels: Uint8Array.from(labels),
      listSize: 3,
      k: 2,
    });
    expect(b).toEqual(a);
    const c = evaluateLists({
      scores: Float32Array.from([0.5, 0.25, 1, 0.75]),
      labels: Float32Array.from([1, 0, 0, 1]),
      listSize: 2,
      k: 1,
    });
    expect(c.hr).toBe(0.5);
    expect(c.auc).toBe(0.5);
  });

  it('evaluateListsAtKs equals evaluateLists at each k, in the given order', () => {
    const ks = [3, 1, 2, 1, 7];
    const all = evaluateListsAtKs({ scores, labels, listSize: 3, ks });
    expect(all).toHaveLength(5);
    ks.forEach((k, t) => {
      expect(all[t]).toEqual(evaluateLists({ scores, labels, listSize: 3, k }));
    });
  });
});
