import { describe, expect, it } from 'vitest';
import {
  LAB_DEFAULTS,
  createRng,
  generateLabDataset,
  sampleLabScores,
  splitIndices,
  validateRerankDataset,
} from '../src/index';
import type { LabDataset } from '../src/index';

/** Mean per-list Mann-Whitney AUC (ties 1/2) over lists of the given rows that hold both classes. */
function meanListAuc(score: ArrayLike<number>, labels: Uint8Array, L: number, rows: Int32Array) {
  let sum = 0;
  let lists = 0;
  for (const r of rows) {
    const o = r * L;
    let pairs = 0;
    let wins = 0;
    for (let a = 0; a < L; a++) {
      if (!labels[o + a]) continue;
      for (let b = 0; b < L; b++) {
        if (labels[o + b]) continue;
        const d = score[o + a]! - score[o + b]!;
        wins += d > 0 ? 1 : d === 0 ? 0.5 : 0;
        pairs++;
      }
    }
    if (pairs) {
      sum += wins / pairs;
      lists++;
    }
  }
  return sum / lists;
}

/** Mean positives in the top 6 by score (ties: lower index first), over the given rows. */
function meanHits6(score: ArrayLike<number>, labels: Uint8Array, L: number, rows: Int32Array) {
  let hits = 0;
  const idx = Array.from({ length: L }, (_, j) => j);
  for (const r of rows) {
    const o = r * L;
    idx.sort((a, b) => score[o + b]! - score[o + a]! || a - b);
    for (let j = 0; j < 6; j++) hits += labels[o + idx[j]!]!;
  }
  return hits / rows.length;
}

const ds: LabDataset = generateLabDataset({ seed: 42 });

describe('generateLabDataset', () => {
  it('has the documented default shapes and passes validation', () => {
    const { listSize: L, historyLength: H } = LAB_DEFAULTS;
    const n = LAB_DEFAULTS.trainLists + LAB_DEFAULTS.validationLists + LAB_DEFAULTS.testLists;
    expect(ds.user.length).toBe(n);
    expect(ds.items.length).toBe(n * L);
    expect(ds.history.length).toBe(n * H);
    expect(ds.trueProbs.length).toBe(n * L);
    expect(ds.userFeatures.length).toBe(LAB_DEFAULTS.numUsers * ds.userFeatureDim);
    expect(ds.itemFeatures.length).toBe((LAB_DEFAULTS.numItems + 1) * ds.itemFeatureDim);
    expect(splitIndices(ds, 'train').length).toBe(4000);
    expect(splitIndices(ds, 'validation').length).toBe(500);
    expect(splitIndices(ds, 'test').length).toBe(500);
    expect(() => validateRerankDataset(ds)).not.toThrow();
    expect(ds.meta.source).toBe('lab');
    // Every list has a positive; histories are distinct real items within [minHistoryLength, H].
    let listsWithoutPositive = 0;
    let badHistories = 0;
    for (let r = 0; r < n; r++) {
      let pos = 0;
      for (let j = 0; j < L; j++) pos += ds.labels[r * L + j]!;
      if (pos === 0) listsWithoutPositive++;
      const c = ds.historyCount[r]!;
      const h = ds.history.subarray(r * H + H - c, (r + 1) * H);
      if (c < 5 || new Set(h).size !== c) badHistories++;
    }
    expect(listsWithoutPositive).toBe(0);
    expect(badHistories).toBe(0);
  });

  it('is deterministic by seed', () => {
    const a = generateLabDataset({ seed: 3, trainLists: 200, validationLists: 20, testLists: 20 });
    const b = generateLabDataset({ seed: 3, trainLists: 200, validationLists: 20, testLists: 20 });
    const c = generateLabDataset({ seed: 4, trainLists: 200, validationLists: 20, testLists: 20 });
    const same = (x: ArrayBufferView, y: ArrayBufferView) =>
      Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
        Buffer.from(y.buffer, y.byteOffset, y.byteLength),
      );
    for (const k of ['items', 'scores', 'labels', 'history', 'user', 'userFeatures'] as const) {
      expect(same(a[k], b[k]), k).toBe(true);
    }
    expect(same(a.items, c.items)).toBe(false);
    expect(a.meta).toEqual(b.meta);
  });

  it('clicks about clickRate of the candidates (10-20 %)', () => {
    let pos = 0;
    for (const y of ds.labels) pos += y;
    const rate = pos / ds.labels.length;
    expect(rate).toBeGreaterThan(0.1);
    expect(rate).toBeLessThan(0.2);
    expect(Math.abs(rate - 0.15)).toBeLessThan(0.015);
    const r2 = generateLabDataset({ seed: 1, clickRate: 0.3, trainLists: 500 });
    let p2 = 0;
    for (const y of r2.labels) p2 += y;
    expect(p2 / r2.labels.length).toBeCloseTo(0.3, 1);
  });

  it('ranks oracle > retriever > random on test lists (hits in the top 6)', () => {
    const L = ds.listSize;
    const test = splitIndices(ds, 'test');
    const random = Float32Array.from(
      { length: ds.scores.length },
      (() => {
        const rng = createRng(9);
        return () => rng.next();
      })(),
    );
    const oracle = meanHits6(ds.trueProbs, ds.labels, L, test);
    const retriever = meanHits6(ds.scores, ds.labels, L, test);
    const rand = meanHits6(random, ds.labels, L, test);
    expect(oracle - retriever).toBeGreaterThan(0.3);
    expect(retriever - rand).toBeGreaterThan(1);
    expect(meanListAuc(ds.trueProbs, ds.labels, L, test)).toBeGreaterThan(0.82);
  });

  it('makes the retriever measurably better on training lists than on evaluation lists', () => {
    const L = ds.listSize;
    const tr = meanListAuc(ds.scores, ds.labels, L, splitIndices(ds, 'train'));
    const te = meanListAuc(ds.scores, ds.labels, L, splitIndices(ds, 'test'));
    const va = meanListAuc(ds.scores, ds.labels, L, splitIndices(ds, 'validation'));
    expect(tr - te).toBeGreaterThan(0.03);
    expect(Math.abs(va - te)).toBeLessThan(0.02);
    // Same noise level everywhere -> no gap.
    const flat = generateLabDataset({ seed: 42, retrieverNoise: { train: 1.5, eval: 1.5 } });
    const ftr = meanListAuc(flat.scores, flat.labels, L, splitIndices(flat, 'train'));
    const fte = meanListAuc(flat.scores, flat.labels, L, splitIndices(flat, 'test'));
    expect(Math.abs(ftr - fte)).toBeLessThan(0.02);
  });

  it('supports heavy-tailed and label-dependent retriever noise', () => {
    for (const shape of ['student-t', 'label-dependent'] as const) {
      const d = generateLabDataset({
        seed: 2,
        trainLists: 300,
        validationLists: 50,
        testLists: 50,
        retrieverNoise: { shape },
      });
      validateRerankDataset(d);
      expect(d.config.retrieverNoise.shape).toBe(shape);
    }
  });

  it('rejects bad configs naming the field', () => {
    expect(() => generateLabDataset({ seed: 1, listSize: 500 })).toThrow(/listSize 500/);
    expect(() => generateLabDataset({ seed: 1, clickRate: 1.2 })).toThrow(/clickRate/);
    expect(() => generateLabDataset({ seed: 1, numUsers: 0 })).toThrow(/numUsers/);
    expect(() =>
      generateLabDataset({ seed: 1, retrieverNoise: { shape: 'cauchy' as never } }),
    ).toThrow(/shape/);
  });

  it('generates the default lab quickly', () => {
    const t0 = performance.now();
    generateLabDataset({ seed: 7 });
    // Typically ~0.1-0.3 s; generous bound for a loaded 2-core machine.
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});

describe('sampleLabScores', () => {
  it('returns the true probabilities with zero noise and is seeded', () => {
    const p = Float32Array.from([0.1, 0.5, 0.9]);
    const y = Uint8Array.from([0, 1, 1]);
    const x = sampleLabScores(p, y, { std: 0 }, createRng(1));
    for (let k = 0; k < 3; k++) expect(x[k]).toBeCloseTo(p[k]!, 6);
    const a = sampleLabScores(p, y, { std: 1, shape: 'student-t' }, createRng(2));
    const b = sampleLabScores(p, y, { std: 1, shape: 'student-t' }, createRng(2));
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('has unit-variance logit noise for gaussian and student-t, shifted positives when label-dependent', () => {
    const m = 20000;
    const p = new Float32Array(m).fill(0.5);
    const zeros = new Uint8Array(m);
    const logit = (v: number) => Math.log(v / (1 - v));
    for (const shape of ['gaussian', 'student-t'] as const) {
      const x = sampleLabScores(p, zeros, { std: 0.5, shape, df: 5 }, createRng(3));
      let s2 = 0;
      for (const v of x) s2 += logit(v) ** 2;
      expect(Math.sqrt(s2 / m)).toBeCloseTo(0.5, 1);
    }
    const ones = new Uint8Array(m).fill(1);
    const x = sampleLabScores(p, ones, { std: 1, shape: 'label-dependent' }, createRng(4));
    let s = 0;
    for (const v of x) s += logit(v);
    expect(s / m).toBeCloseTo(-0.5, 1);
  });
});
