import { describe, expect, it } from 'vitest';
import {
  buildHistories,
  buildRerankDataset,
  sampleCandidates,
  scoreAndOrder,
  topCandidates,
  validateRerankDataset,
} from '../src/index';
import type { CandidateScorer, RequestSet } from '../src/index';

/**
 * Two users, 20 items, windows of 3.
 * user 0: items 0..8, positives 1 1 0 | 1 0 0 | 1 1 1 ; requests at pos 3 and 6.
 * user 1: items 10 11 12 | 13 13 14 (13 repeated inside the window, labels 0 then 1) ; request at pos 3.
 */
function fixture(numItems = 20): RequestSet {
  return {
    numUsers: 2,
    numItems,
    windowSize: 3,
    seqStart: Int32Array.from([0, 9, 15]),
    seqItems: Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 13, 14]),
    seqPositive: Uint8Array.from([1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1]),
    // Requests deliberately not in (user, pos) order.
    user: Int32Array.from([0, 1, 0]),
    pos: Int32Array.from([6, 3, 3]),
    windowIndex: Int32Array.from([2, 1, 1]),
    split: Uint8Array.from([2, 0, 0]),
    userIds: ['a', 'b'],
    itemIds: Array.from({ length: numItems }, (_, i) => `i${i}`),
  };
}

const row = (a: Int32Array | Uint8Array | Float32Array, r: number, L: number) =>
  Array.from(a.subarray(r * L, (r + 1) * L));

/** Scores = item / 100; records the calls. */
function itemScorer(numItems: number): CandidateScorer & { calls: number[][] } {
  const calls: number[][] = [];
  return {
    calls,
    scoreLists(requestIds, items) {
      calls.push(Array.from(requestIds));
      return Float32Array.from(items, (it) => it / 100);
    },
    scoreAll() {
      return Float32Array.from({ length: numItems }, (_, i) => i / 100);
    },
  };
}

const constScorer: CandidateScorer = {
  scoreLists: (_r, items) => new Float32Array(items.length).fill(0.5),
};

describe('sampleCandidates', () => {
  it('puts the exposed items first with their labels, then unseen negatives without duplicates', () => {
    const L = 8;
    const c = sampleCandidates(fixture(), { listSize: L, seed: 1 });
    expect(Array.from(c.exposedCount)).toEqual([3, 2, 3]);
    expect(Array.from(c.request)).toEqual([0, 1, 2]);
    // request 0: user 0, window 6 7 8 (all positive); seen = 0..8
    expect(row(c.items, 0, L).slice(0, 3)).toEqual([6, 7, 8]);
    expect(row(c.labels, 0, L)).toEqual([1, 1, 1, 0, 0, 0, 0, 0]);
    for (const it of row(c.items, 0, L).slice(3)) expect(it).toBeGreaterThanOrEqual(9);
    // request 2: user 0, window 3 4 5 with labels 1 0 0; seen = 0..5 (6..8 are in the future: allowed)
    expect(row(c.items, 2, L).slice(0, 3)).toEqual([3, 4, 5]);
    expect(row(c.labels, 2, L)).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    for (const it of row(c.items, 2, L).slice(3)) expect(it).toBeGreaterThanOrEqual(6);
    // request 1: user 1, window 13 13 14 -> 13 once with label OR(0,1) = 1, then 14; seen = 10..14
    expect(row(c.items, 1, L).slice(0, 2)).toEqual([13, 14]);
    expect(row(c.labels, 1, L)).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
    for (const it of row(c.items, 1, L).slice(2)) expect([10, 11, 12, 13, 14]).not.toContain(it);
    for (let r = 0; r < 3; r++) {
      const items = row(c.items, r, L);
      expect(new Set(items).size).toBe(L);
      for (const it of items) expect(it).toBeGreaterThanOrEqual(0);
      for (const it of items) expect(it).toBeLessThan(20);
    }
  });

  it('is deterministic by seed and differs between seeds', () => {
    const a = sampleCandidates(fixture(), { listSize: 8, seed: 7 });
    const b = sampleCandidates(fixture(), { listSize: 8, seed: 7 });
    const c = sampleCandidates(fixture(), { listSize: 8, seed: 8 });
    expect(Array.from(b.items)).toEqual(Array.from(a.items));
    expect(Array.from(c.items)).not.toEqual(Array.from(a.items));
  });

  it('uses every unseen item when the catalog is just large enough (enumeration path)', () => {
    // user 0 at pos 6 has seen 0..8: unseen = 9..19 (11 items) = exactly the 11 negatives needed.
    const c = sampleCandidates(fixture(), { listSize: 14, seed: 3 });
    const negs = row(c.items, 0, 14)
      .slice(3)
      .sort((x, y) => x - y);
    expect(negs).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('samples negatives uniformly (every unseen item about equally often)', () => {
    const counts = new Array(20).fill(0);
    for (let s = 0; s < 400; s++) {
      const c = sampleCandidates(fixture(), { listSize: 8, seed: s });
      for (const it of row(c.items, 0, 8).slice(3)) counts[it]++;
    }
    // 400 lists x 5 negatives over 11 unseen items: 181.8 each on average.
    for (let it = 0; it < 9; it++) expect(counts[it]).toBe(0);
    for (let it = 9; it < 20; it++) expect(Math.abs(counts[it] - 2000 / 11)).toBeLessThan(45);
  });

  it('rejects impossible sizes with clear errors', () => {
    expect(() => sampleCandidates(fixture(), { listSize: 15, seed: 1 })).toThrow(
      /request 0 \(user 0\) has only 11 unseen items but needs 12/,
    );
    expect(() => sampleCandidates(fixture(), { listSize: 2, seed: 1 })).toThrow(/windowSize 3/);
    expect(() => sampleCandidates(fixture(), { listSize: 21, seed: 1 })).toThrow(/numItems = 20/);
    const bad = { ...fixture(), pos: Int32Array.from([7, 3, 3]) };
    expect(() => sampleCandidates(bad, { listSize: 8, seed: 1 })).toThrow(/pos\[0\] = 7/);
  });
});

describe('topCandidates', () => {
  it("takes the retriever's top unseen items", () => {
    const c = topCandidates(fixture(), itemScorer(20), { listSize: 6 });
    // request 2 (user 0, pos 3): seen 0..5 -> top 3 unseen by item/100 = 19 18 17
    expect(row(c.items, 2, 6).slice(0, 3)).toEqual([3, 4, 5]);
    expect(
      row(c.items, 2, 6)
        .slice(3)
        .sort((a, b) => b - a),
    ).toEqual([19, 18, 17]);
    // request 1 (user 1): 2 exposed + 4 negatives; 14 and 13 are seen -> 19 18 17 16
    expect(
      row(c.items, 1, 6)
        .slice(2)
        .sort((a, b) => b - a),
    ).toEqual([19, 18, 17, 16]);
  });

  it('skips seen items even when they score highest, ties by lower index', () => {
    const scorer: CandidateScorer = {
      scoreLists: (_r, items) => new Float32Array(items.length),
      scoreAll: () => {
        const s = new Float32Array(20).fill(0.1);
        s[0] = 0.9; // seen by user 0
        s[12] = 0.8;
        return s;
      },
    };
    const c = topCandidates(fixture(), scorer, { listSize: 6 });
    expect(
      row(c.items, 2, 6)
        .slice(3)
        .sort((a, b) => a - b),
    ).toEqual([6, 7, 12]);
  });

  it('needs scoreAll', () => {
    expect(() => topCandidates(fixture(), constScorer)).toThrow(/scoreAll/);
  });
});

describe('scoreAndOrder', () => {
  it('orders each list by score descending, keeping labels with their items', () => {
    const cands = sampleCandidates(fixture(), { listSize: 8, seed: 1 });
    const scorer = itemScorer(20);
    const o = scoreAndOrder(cands, scorer, { seed: 1, chunkSize: 2 });
    expect(scorer.calls).toEqual([[0, 1], [2]]);
    for (let r = 0; r < 3; r++) {
      const items = row(o.items, r, 8);
      expect(items).toEqual([...row(cands.items, r, 8)].sort((a, b) => b - a));
      expect(row(o.scores, r, 8)).toEqual(items.map((it) => Math.fround(it / 100)));
      for (let j = 0; j < 8; j++) {
        const src = row(cands.items, r, 8).indexOf(items[j]!);
        expect(o.labels[r * 8 + j]).toBe(cands.labels[r * 8 + src]);
      }
    }
    // The input is untouched.
    expect(row(cands.items, 0, 8).slice(0, 3)).toEqual([6, 7, 8]);
  });

  it('shuffles ties randomly: exposed items do not stay at the front when scores tie', () => {
    const cands = sampleCandidates(fixture(), { listSize: 8, seed: 1 });
    const frontCounts = new Array(8).fill(0);
    let exposedAtFront = 0;
    for (let s = 0; s < 200; s++) {
      const o = scoreAndOrder(cands, constScorer, { seed: s });
      const items = row(o.items, 0, 8);
      if (items.slice(0, 3).every((it) => [6, 7, 8].includes(it))) exposedAtFront++;
      frontCounts[row(cands.items, 0, 8).indexOf(items[0]!)]++;
    }
    // P(the 3 exposed items fill positions 0..2) = 1 / C(8,3) = 1/56.
    expect(exposedAtFront).toBeLessThan(15);
    // Each original position reaches the front ~25 times in 200 draws.
    for (const c of frontCounts) expect(c).toBeGreaterThan(8);
    const a = scoreAndOrder(cands, constScorer, { seed: 5 });
    const b = scoreAndOrder(cands, constScorer, { seed: 5 });
    expect(Array.from(a.items)).toEqual(Array.from(b.items));
  });

  it('rejects bad scorer output', () => {
    const cands = sampleCandidates(fixture(), { listSize: 8, seed: 1 });
    const short: CandidateScorer = { scoreLists: () => new Float32Array(3) };
    expect(() => scoreAndOrder(cands, short, { seed: 1 })).toThrow(/returned 3 scores/);
    const nan: CandidateScorer = {
      scoreLists: (_r, items) => {
        const s = new Float32Array(items.length);
        s[10] = Number.NaN;
        return s;
      },
    };
    expect(() => scoreAndOrder(cands, nan, { seed: 1 })).toThrow(
      /list 1 \(request 1\), position 2/,
    );
  });
});

describe('buildHistories / buildRerankDataset', () => {
  it('left-pads histories with numItems, most recent last', () => {
    const { history, historyCount } = buildHistories(fixture(), 5);
    expect(Array.from(historyCount)).toEqual([5, 3, 3]);
    expect(row(history, 0, 5)).toEqual([1, 2, 3, 4, 5]);
    expect(row(history, 1, 5)).toEqual([20, 20, 10, 11, 12]);
    expect(row(history, 2, 5)).toEqual([20, 20, 0, 1, 2]);
  });

  it('assembles a valid RerankDataset (sampled and top modes)', () => {
    const rs = fixture();
    for (const candidateMode of ['sampled', 'top'] as const) {
      const ds = buildRerankDataset(rs, itemScorer(20), {
        listSize: 8,
        historyCap: 4,
        seed: 11,
        candidateMode,
        meta: { name: 'fixture' },
      });
      validateRerankDataset(ds);
      expect(ds.items.length).toBe(24);
      expect(ds.historyLength).toBe(4);
      expect(Array.from(ds.split)).toEqual([2, 0, 0]);
      expect(Array.from(ds.user)).toEqual([0, 1, 0]);
      expect(row(ds.history, 2, 4)).toEqual([20, 0, 1, 2]);
      expect(ds.meta).toMatchObject({ name: 'fixture', candidateMode, listSize: 8, seed: 11 });
      // Positives of request 0 (6, 7, 8) are all in the list with label 1.
      const items0 = row(ds.items, 0, 8);
      for (const it of [6, 7, 8]) expect(ds.labels[items0.indexOf(it)]).toBe(1);
      expect(row(ds.labels, 0, 8).reduce((a, b) => a + b, 0)).toBe(3);
    }
    const again = buildRerankDataset(rs, itemScorer(20), { listSize: 8, seed: 11 });
    const first = buildRerankDataset(rs, itemScorer(20), { listSize: 8, seed: 11 });
    expect(Array.from(again.items)).toEqual(Array.from(first.items));
  });
});
