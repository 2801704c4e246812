import { describe, expect, it } from 'vitest';
import {
  RerankDatasetError,
  countBatches,
  datasetSummary,
  iterateBatches,
  splitIndices,
  subsetDataset,
  validateRerankDataset,
} from '../src/index';
import type { RerankDataset } from '../src/index';

/** 7 lists of 3 candidates, H = 2, numItems = 9 (padding index 9), splits 0 0 1 0 2 0 1. */
function tiny(): RerankDataset {
  const n = 7;
  const L = 3;
  const items = new Int32Array(n * L);
  const scores = new Float32Array(n * L);
  const labels = new Uint8Array(n * L);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L; j++) {
      items[i * L + j] = (i + j) % 9;
      scores[i * L + j] = 1 - j * 0.25;
      labels[i * L + j] = j === i % L ? 1 : 0;
    }
  }
  labels[6 * L + 0] = 0; // list 6 has no positive
  return {
    numUsers: 4,
    numItems: 9,
    listSize: L,
    historyLength: 2,
    user: Int32Array.from([0, 1, 2, 3, 0, 1, 2]),
    history: Int32Array.from([9, 1, 2, 3, 9, 9, 4, 5, 9, 6, 7, 8, 0, 1]),
    historyCount: Int32Array.from([1, 2, 0, 2, 1, 2, 2]),
    items,
    scores,
    labels,
    split: Uint8Array.from([0, 0, 1, 0, 2, 0, 1]),
    trueProbs: new Float32Array(n * L).fill(0.25),
    meta: { name: 'tiny' },
  };
}

describe('splitIndices / subsetDataset / datasetSummary', () => {
  it('selects splits by name or code', () => {
    const ds = tiny();
    expect(Array.from(splitIndices(ds, 'train'))).toEqual([0, 1, 3, 5]);
    expect(Array.from(splitIndices(ds, 1))).toEqual([2, 6]);
    expect(Array.from(splitIndices(ds, 'test'))).toEqual([4]);
    expect(splitIndices(ds, 'all').length).toBe(7);
    expect(() => splitIndices(ds, 'dev' as never)).toThrow(/split must be/);
  });

  it('subsets lists in the given order', () => {
    const ds = tiny();
    const sub = subsetDataset(ds, [3, 0]);
    validateRerankDataset(sub);
    expect(Array.from(sub.user)).toEqual([3, 0]);
    expect(Array.from(sub.items)).toEqual([3, 4, 5, 0, 1, 2]);
    expect(Array.from(sub.history)).toEqual([4, 5, 9, 1]);
    expect(Array.from(sub.historyCount)).toEqual([2, 1]);
    expect(sub.trueProbs?.length).toBe(6);
    expect(sub.meta).toEqual({ name: 'tiny', subsetOf: 7 });
    expect(() => subsetDataset(ds, [7])).toThrow(/indices\[0\] = 7/);
  });

  it('summarizes counts per split', () => {
    const s = datasetSummary(tiny());
    expect(s.lists).toBe(7);
    expect(s.hasTrueProbs).toBe(true);
    // train lists 0,1,3,5: one positive each; histories 1,2,2,2; users 0,1,3,1 -> 3 distinct
    expect(s.splits.train).toEqual({
      lists: 4,
      positives: 4,
      meanPositivesPerList: 1,
      listsWithoutPositives: 0,
      meanHistoryCount: 7 / 4,
      users: 3,
    });
    // validation lists 2 and 6: list 6 has none
    expect(s.splits.validation.positives).toBe(1);
    expect(s.splits.validation.listsWithoutPositives).toBe(1);
    expect(s.splits.test.lists).toBe(1);
  });
});

describe('iterateBatches', () => {
  it('covers every list of the split exactly once, in order without shuffle', () => {
    const ds = tiny();
    const batches = [...iterateBatches(ds, { split: 'train', batchSize: 3 })];
    expect(batches.map((b) => b.size)).toEqual([3, 1]);
    expect(batches.flatMap((b) => Array.from(b.index))).toEqual([0, 1, 3, 5]);
    const b0 = batches[0]!;
    expect(Array.from(b0.user)).toEqual([0, 1, 3]);
    expect(Array.from(b0.items)).toEqual([0, 1, 2, 1, 2, 3, 3, 4, 5]);
    expect(Array.from(b0.history)).toEqual([9, 1, 2, 3, 4, 5]);
    expect(Array.from(b0.historyCount)).toEqual([1, 2, 2]);
    expect(Array.from(b0.labels)).toEqual([1, 0, 0, 0, 1, 0, 1, 0, 0]);
    expect(b0.labels).toBeInstanceOf(Uint8Array);
    expect(b0.trueProbs?.length).toBe(9);
    expect(countBatches(ds, { split: 'train', batchSize: 3 })).toBe(2);
    expect(countBatches(ds, { split: 'train', batchSize: 3, dropLast: true })).toBe(1);
    const dropped = [...iterateBatches(ds, { split: 'train', batchSize: 3, dropLast: true })];
    expect(dropped.length).toBe(1);
  });

  it('shuffles reproducibly by (seed, epoch), still covering every list once', () => {
    const ds = tiny();
    const order = (seed: number, epoch: number) =>
      [...iterateBatches(ds, { split: 'all', batchSize: 2, shuffle: true, seed, epoch })].flatMap(
        (b) => Array.from(b.index),
      );
    const a = order(1, 0);
    expect(order(1, 0)).toEqual(a);
    expect([...a].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const others = [order(1, 1), order(1, 2), order(2, 0)];
    expect(others.some((o) => o.join() !== a.join())).toBe(true);
    expect(() => [...iterateBatches(ds, { split: 'all', batchSize: 2, shuffle: true })]).toThrow(
      /explicit seed/,
    );
  });

  it('yields the same content with reused buffers, and float32 labels on request', () => {
    const ds = tiny();
    const fresh = [...iterateBatches(ds, { split: 'all', batchSize: 3 })].map((b) =>
      Array.from(b.items),
    );
    const reused: number[][] = [];
    let first: Int32Array | undefined;
    for (const b of iterateBatches(ds, { split: 'all', batchSize: 3, reuseBuffers: true })) {
      reused.push(Array.from(b.items));
      first ??= b.items;
    }
    expect(reused).toEqual(fresh);
    // The reused buffer now holds the last (short) batch's data in its first row.
    expect(Array.from(first!.subarray(0, 3))).toEqual(fresh[2]);
    const f = iterateBatches(ds, { split: 'train', batchSize: 4, labelDtype: 'float32' }).next();
    expect(f.done).toBe(false);
    if (!f.done) {
      expect(f.value.labels).toBeInstanceOf(Float32Array);
      expect(Array.from(f.value.labels.subarray(0, 3))).toEqual([1, 0, 0]);
    }
    expect(() => [...iterateBatches(ds, { split: 'all', batchSize: 0 })]).toThrow(/batchSize/);
  });
});

type Mutable = { -readonly [K in keyof RerankDataset]: RerankDataset[K] };

describe('validateRerankDataset', () => {
  const cases: [string, (d: Mutable) => void, string, number][] = [
    ['labels', (d) => (d.labels[4] = 2), 'labels', 4],
    ['scores NaN', (d) => (d.scores[5] = Number.NaN), 'scores', 5],
    ['scores order', (d) => (d.scores[7] = 2), 'scores', 7],
    ['items range', (d) => (d.items[3] = 10), 'items', 3],
    ['padding label', (d) => ((d.items[3] = 9), (d.labels[3] = 1)), 'labels', 3],
    ['user range', (d) => (d.user[2] = 4), 'user', 2],
    ['split code', (d) => (d.split[6] = 3), 'split', 6],
    ['history padding', (d) => (d.history[0] = 3), 'history', 0],
    ['history real', (d) => (d.history[1] = 9), 'history', 1],
    ['historyCount', (d) => (d.historyCount[2] = 3), 'historyCount', 2],
    ['trueProbs', (d) => (d.trueProbs![8] = 1.5), 'trueProbs', 8],
    ['scores length', (d) => (d.scores = new Float32Array(20)), 'scores', -1],
    ['labels type', (d) => (d.labels = new Int32Array(21) as never), 'labels', -1],
    ['numItems', (d) => (d.numItems = 0), 'numItems', -1],
    [
      'itemFeatures padding',
      (d) => {
        d.itemFeatures = new Float32Array(20).fill(1);
        d.itemFeatureDim = 2;
      },
      'itemFeatures',
      18,
    ],
    ['userFeatureDim', (d) => (d.userFeatures = new Float32Array(8)), 'userFeatureDim', -1],
  ];

  it('accepts a valid dataset', () => {
    expect(() => validateRerankDataset(tiny())).not.toThrow();
  });

  for (const [name, corrupt, field, index] of cases) {
    it(`names the field and first bad index: ${name}`, () => {
      const d: Mutable = { ...tiny() };
      corrupt(d);
      let err: unknown;
      try {
        validateRerankDataset(d);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RerankDatasetError);
      const e = err as RerankDatasetError;
      expect(e.field).toBe(field);
      expect(e.index).toBe(index);
      expect(e.message).toContain(`RerankDataset.${field}`);
    });
  }

  it('can skip the order check', () => {
    const d = tiny();
    d.scores[7] = 2;
    expect(() => validateRerankDataset(d, { checkOrder: false })).not.toThrow();
  });
});
