import { createRng } from '@dnr/data';
import { describe, expect, it } from 'vitest';
import {
  buildUserItemIndex,
  createMF,
  hasItem,
  mannWhitneyAuc,
  retrieverAuc,
  sampleNegative,
  scoreAllItems,
  scoreItemsInto,
  sigmoid,
  validatePairs,
} from '../src/index';

const pairs = (numUsers: number, numItems: number, u: number[], i: number[]) => ({
  numUsers,
  numItems,
  user: Int32Array.from(u),
  item: Int32Array.from(i),
});

describe('user-item index and negative sampling', () => {
  it('sorts and dedupes each user, merging sources', () => {
    const idx = buildUserItemIndex(pairs(3, 6, [1, 0, 1, 1], [4, 2, 0, 4]), pairs(3, 6, [2], [5]));
    expect(Array.from(idx.start)).toEqual([0, 1, 3, 4]);
    expect(Array.from(idx.items)).toEqual([2, 0, 4, 5]);
    expect(hasItem(idx, 1, 4)).toBe(true);
    expect(hasItem(idx, 1, 2)).toBe(false);
    expect(hasItem(idx, 0, 2)).toBe(true);
  });

  it('never draws a linked item, draws the complement uniformly, and -1 for full users', () => {
    // user 0 has 5 of 6 items; user 1 none; user 2 all
    const idx = buildUserItemIndex(
      pairs(3, 6, [0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2], [0, 1, 2, 4, 5, 0, 1, 2, 3, 4, 5]),
    );
    const rng = createRng(4);
    for (let t = 0; t < 50; t++) expect(sampleNegative(idx, 0, rng)).toBe(3);
    expect(sampleNegative(idx, 2, rng)).toBe(-1);
    const counts = new Array(6).fill(0);
    for (let t = 0; t < 6000; t++) counts[sampleNegative(idx, 1, rng)]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(120);
  });

  it('enumerates the complement exactly for nearly-full users', () => {
    // 1000 items, the user has all but 7 and 993: rejection almost always fails
    const items = Array.from({ length: 1000 }, (_, i) => i).filter((i) => i !== 7 && i !== 993);
    const idx = buildUserItemIndex(
      pairs(
        1,
        1000,
        items.map(() => 0),
        items,
      ),
    );
    const rng = createRng(5);
    const seen = new Set<number>();
    for (let t = 0; t < 40; t++) seen.add(sampleNegative(idx, 0, rng));
    expect([...seen].sort((a, b) => a - b)).toEqual([7, 993]);
  });

  it('validates pairs with the offending field', () => {
    expect(() => validatePairs(pairs(2, 3, [0, 2], [0, 1]))).toThrow(/pairs\.user\[1\] = 2/);
    expect(() => validatePairs(pairs(2, 3, [0], [0, 1]))).toThrow(/same length/);
    expect(() => buildUserItemIndex(pairs(2, 3, [0], [0]), pairs(2, 4, [0], [0]))).toThrow(
      /source 1/,
    );
  });
});

describe('AUC', () => {
  it('is the Mann-Whitney statistic with ties counted 1/2', () => {
    // (0.9>0.5) + (0.9>0.1) + (0.5=0.5 -> 1/2) + (0.5>0.1) = 3.5 of 4
    expect(mannWhitneyAuc([0.9, 0.5], [0.5, 0.1])).toBe(0.875);
    expect(mannWhitneyAuc([1, 1], [1])).toBe(0.5);
    expect(mannWhitneyAuc([0], [1, 2])).toBe(0);
    expect(Number.isNaN(mannWhitneyAuc([], [1]))).toBe(true);
    expect(() => mannWhitneyAuc([NaN], [1])).toThrow(/NaN/);
  });

  it('retrieverAuc ranks held-out items against sampled non-excluded items', () => {
    const m = createMF(1, 4, { dim: 1, initStd: 0, seed: 1 });
    m.itemBias.set([0, 1, 2, 3]);
    const exclude = buildUserItemIndex(pairs(1, 4, [0, 0], [3, 0]));
    // positive item 3 (highest bias) vs negatives from {1, 2}
    expect(
      retrieverAuc(m, pairs(1, 4, [0], [3]), { seed: 1, exclude, negativesPerPositive: 5 }),
    ).toBe(1);
    // positive item 0 (lowest) vs {1, 2}
    expect(retrieverAuc(m, pairs(1, 4, [0], [0]), { seed: 1, exclude })).toBe(0);
    // default exclude = the held-out pairs: item 1 vs {0, 2, 3} -> depends on draws, in [0, 1]
    const auc = retrieverAuc(m, pairs(1, 4, [0, 0], [1, 1]), { seed: 2, negativesPerPositive: 50 });
    expect(auc).toBeGreaterThan(0.2);
    expect(auc).toBeLessThan(0.5);
    expect(() => retrieverAuc(m, pairs(2, 4, [0], [0]), { seed: 1 })).toThrow(/users/);
  });
});

describe('scoring', () => {
  it('scores sigmoid(<p,q> + biases)', () => {
    const m = createMF(2, 3, { dim: 2, initStd: 0, seed: 1 });
    m.userEmb.set([1, 2, 0, 0]);
    m.itemEmb.set([0.5, 0.25, -1, 0, 0, 0]);
    m.userBias.set([0.1, 0]);
    m.itemBias.set([0, 0.2, 0]);
    m.globalBias[0] = -0.3;
    const out = new Float32Array(4);
    scoreItemsInto(m, 0, [0, 1], out, 2);
    expect(out[2]).toBeCloseTo(sigmoid(0.5 + 0.5 + 0.1 - 0.3), 6);
    expect(out[3]).toBeCloseTo(sigmoid(-1 + 0.1 + 0.2 - 0.3), 6);
    const all = scoreAllItems(m, 1);
    [-0.3, -0.1, -0.3].forEach((z, k) => expect(all[k]).toBeCloseTo(sigmoid(z), 6));
    expect(() => scoreAllItems(m, 2)).toThrow(/user 2/);
    expect(() => scoreItemsInto(m, 0, [3], out)).toThrow(/item 3/);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(1000)).toBe(1);
  });
});
