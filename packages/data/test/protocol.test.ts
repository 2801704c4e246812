import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Split,
  buildRequests,
  createRng,
  datasetStats,
  kCore,
  parseInteractions,
  prepareRequests,
  requestRanges,
  splitWindowCounts,
} from '../src/index';
import type { Interactions } from '../src/index';

function interactionsOf(rows: Array<[string, string]>): Interactions {
  return parseInteractions(rows.map(([u, i]) => `${u} ${i}`).join('\n'), { format: 'lists' });
}

/** Reference k-core: full passes until nothing changes. */
function naiveKCore(x: Interactions, minU: number, minI: number): Array<[string, string]> {
  let rows = Array.from(
    x.user,
    (u, r) => [x.userIds[u]!, x.itemIds[x.item[r]!]!] as [string, string],
  );
  for (;;) {
    const cu = new Map<string, number>();
    const ci = new Map<string, number>();
    for (const [u, i] of rows) {
      cu.set(u, (cu.get(u) ?? 0) + 1);
      ci.set(i, (ci.get(i) ?? 0) + 1);
    }
    const next = rows.filter(([u, i]) => cu.get(u)! >= minU && ci.get(i)! >= minI);
    if (next.length === rows.length) return rows;
    rows = next;
  }
}

const pairs = (x: Interactions): Array<[string, string]> =>
  Array.from(x.user, (u, r) => [x.userIds[u]!, x.itemIds[x.item[r]!]!] as [string, string]);

describe('kCore', () => {
  it('cascades until stable (hand-computed, several passes)', () => {
    // counts: a3 b2 c2 d2 | u1 2 u2 2 u3 2 u4 2 u5 1. With k = 2: u5 goes, then d, u4, c, u3.
    const x = interactionsOf([
      ['u1', 'a'],
      ['u1', 'b'],
      ['u2', 'a'],
      ['u2', 'b'],
      ['u3', 'a'],
      ['u3', 'c'],
      ['u4', 'c'],
      ['u4', 'd'],
      ['u5', 'd'],
    ]);
    const k = kCore(x, { minUserInteractions: 2, minItemInteractions: 2 });
    expect(k.userIds).toEqual(['u1', 'u2']);
    expect(k.itemIds).toEqual(['a', 'b']);
    expect(Array.from(k.user)).toEqual([0, 0, 1, 1]);
    expect(Array.from(k.item)).toEqual([0, 1, 0, 1]);
    expect(k.implicit).toBe(true);
    // a single pass of the naive rule would have kept u1..u4
    expect(naiveKCore(x, 2, 2)).toEqual(pairs(k));
  });

  it('re-indexes densely in order of first appearance and keeps ratings/timestamps aligned', () => {
    const x = parseInteractions(
      'user,item,rating,timestamp\nz,p,1,10\na,q,2,11\na,p,3,12\nb,q,4,13\nb,p,5,14\n',
      { format: 'csv' },
    );
    const k = kCore(x, { minUserInteractions: 2, minItemInteractions: 1 });
    expect(k.userIds).toEqual(['a', 'b']);
    expect(k.itemIds).toEqual(['q', 'p']);
    expect(Array.from(k.rating)).toEqual([2, 3, 4, 5]);
    expect(Array.from(k.timestamp)).toEqual([11, 12, 13, 14]);
  });

  it('counts repeated rows and may empty everything', () => {
    const x = interactionsOf([
      ['u', 'a'],
      ['u', 'a'],
    ]);
    expect(kCore(x, { minUserInteractions: 2, minItemInteractions: 2 }).user.length).toBe(2);
    const none = kCore(x, { minUserInteractions: 3, minItemInteractions: 1 });
    expect(none.user.length).toBe(0);
    expect(none.userIds).toEqual([]);
    expect(() => kCore(x, { minUserInteractions: -1 })).toThrow(RangeError);
    expect(() => kCore(x, { minItemInteractions: 1.5 })).toThrow(RangeError);
  });

  it('agrees with the naive multi-pass filter on random graphs', () => {
    const rng = createRng(11);
    for (let t = 0; t < 30; t++) {
      const rows: Array<[string, string]> = [];
      const n = 20 + rng.int(300);
      for (let r = 0; r < n; r++)
        rows.push([`u${rng.int(30)}`, `i${Math.floor(rng.next() ** 2 * 40)}`]);
      const x = interactionsOf(rows);
      const minU = 1 + rng.int(8);
      const minI = 1 + rng.int(8);
      expect(pairs(kCore(x, { minUserInteractions: minU, minItemInteractions: minI }))).toEqual(
        naiveKCore(x, minU, minI),
      );
    }
  });
});

describe('splitWindowCounts', () => {
  it('ratio 0.8/0.1/0.1: round half up, at least one each from 3 windows', () => {
    const expected: Record<number, [number, number, number]> = {
      0: [0, 0, 0],
      1: [1, 0, 0],
      2: [2, 0, 0],
      3: [1, 1, 1],
      4: [2, 1, 1],
      10: [8, 1, 1],
      14: [12, 1, 1],
      15: [11, 2, 2],
      20: [16, 2, 2],
      24: [20, 2, 2],
      25: [19, 3, 3],
    };
    for (const [n, counts] of Object.entries(expected)) {
      expect(splitWindowCounts(Number(n))).toEqual(counts);
    }
  });

  it('other ratios, validation 0, and the train >= 1 repair', () => {
    expect(splitWindowCounts(5, { mode: 'ratio', train: 0.6, validation: 0.2 })).toEqual([3, 1, 1]);
    expect(splitWindowCounts(10, { mode: 'ratio', train: 0.6, validation: 0.2 })).toEqual([
      6, 2, 2,
    ]);
    expect(splitWindowCounts(10, { mode: 'ratio', train: 0.9, validation: 0 })).toEqual([9, 0, 1]);
    expect(splitWindowCounts(10, { mode: 'ratio', train: 1, validation: 0 })).toEqual([10, 0, 0]);
    // 4 windows at 0.1/0.45/0.45: 2 + 2 leaves no train; validation is reduced first on a tie
    expect(splitWindowCounts(4, { mode: 'ratio', train: 0.1, validation: 0.45 })).toEqual([
      1, 1, 2,
    ]);
    expect(() => splitWindowCounts(4, { mode: 'ratio', train: 0.9, validation: 0.2 })).toThrow(
      RangeError,
    );
    expect(() => splitWindowCounts(4, { mode: 'ratio', train: 0 })).toThrow(RangeError);
  });

  it('leave-last and the minimum window count', () => {
    expect(splitWindowCounts(2, { mode: 'leave-last' })).toEqual([2, 0, 0]);
    expect(splitWindowCounts(3, { mode: 'leave-last' })).toEqual([1, 1, 1]);
    expect(splitWindowCounts(7, { mode: 'leave-last' })).toEqual([5, 1, 1]);
    expect(splitWindowCounts(2, { mode: 'leave-last' }, 2)).toEqual([0, 1, 1]);
    expect(splitWindowCounts(4, { mode: 'ratio' }, 5)).toEqual([4, 0, 0]);
  });
});

// One user, file order r0..r9 with (item, rating, timestamp); r1 and r2 tie at t = 10.
// Time order: r1 r2 r3 r0 r4 r5 r6 r7 r8 r9 -> items i2 i3 i4 i1 i5 i6 i7 i8 i9 i10,
// ratings 1 2 1 5 4 2 1 2 1 3 -> positives (>= 3) at offsets 3, 4, 9.
// Windows of 3: [0,3) no positive, [3,6) kept, [6,9) no positive, [9,10) partial.
const oneUser =
  'user,item,rating,timestamp\n' +
  ['A,i1,5,30', 'A,i2,1,10', 'A,i3,2,10', 'A,i4,1,20', 'A,i5,4,40', 'A,i6,2,50', 'A,i7,1,60'].join(
    '\n',
  ) +
  '\n' +
  ['A,i8,2,70', 'A,i9,1,80', 'A,i10,3,90'].join('\n') +
  '\n';

describe('buildRequests', () => {
  it('sorts by time with ties in file order, drops no-positive and partial windows', () => {
    const x = parseInteractions(oneUser, { format: 'csv' });
    const rs = buildRequests(x, { windowSize: 3 });
    const ids = Array.from(rs.seqItems, (i) => rs.itemIds[i]);
    expect(ids).toEqual(['i2', 'i3', 'i4', 'i1', 'i5', 'i6', 'i7', 'i8', 'i9', 'i10']);
    expect(Array.from(rs.seqPositive)).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 0, 1]);
    expect(Array.from(rs.seqStart)).toEqual([0, 10]);
    expect(Array.from(rs.pos)).toEqual([3]);
    expect(Array.from(rs.windowIndex)).toEqual([0]);
    expect(Array.from(rs.split)).toEqual([Split.train]);
    expect(rs.droppedWindows).toBe(2);
    expect(rs.windowSize).toBe(3);
    expect(rs.protocol.historyCap).toBe(50);
    // the dropped window's interactions are still the history
    expect(requestRanges(rs, 0, 2)).toEqual({ historyStart: 1, windowStart: 3, windowEnd: 6 });
    expect(requestRanges(rs, 0)).toEqual({ historyStart: 0, windowStart: 3, windowEnd: 6 });
    expect(datasetStats(rs)).toEqual({
      users: 1,
      items: 10,
      interactions: 10,
      requests: 1,
      positives: 2,
    });
  });

  it('keeps no-positive windows on request, then splits 1/1/1; threshold changes positives', () => {
    const x = parseInteractions(oneUser, { format: 'csv' });
    const all = buildRequests(x, { windowSize: 3, dropNoPositiveWindows: false });
    expect(Array.from(all.pos)).toEqual([0, 3, 6]);
    expect(Array.from(all.windowIndex)).toEqual([0, 1, 2]);
    expect(Array.from(all.split)).toEqual([Split.train, Split.validation, Split.test]);
    expect(all.splitSizes).toEqual([1, 1, 1]);
    expect(datasetStats(all).positives).toBe(2);
    const strict = buildRequests(x, { windowSize: 3, positiveThreshold: 5 });
    expect(Array.from(strict.seqPositive)).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(datasetStats(strict)).toMatchObject({ requests: 1, positives: 1 });
    const loose = buildRequests(x, { windowSize: 3, positiveThreshold: 1 });
    expect(Array.from(loose.pos)).toEqual([0, 3, 6]);
    expect(datasetStats(loose).positives).toBe(9);
  });

  it('implicit data: file order is time order, every item positive, several users', () => {
    const x = parseInteractions('h\nA\ta b c d e f g\nB\tc b\nC\ta b c d e f\n', {
      format: 'sequences',
    });
    const rs = buildRequests(x, { windowSize: 2 });
    expect(Array.from(rs.seqStart)).toEqual([0, 7, 9, 15]);
    expect(Array.from(rs.seqItems, (i) => rs.itemIds[i]).join('')).toBe('abcdefgcbabcdef');
    expect(Array.from(rs.user)).toEqual([0, 0, 0, 1, 2, 2, 2]);
    expect(Array.from(rs.pos)).toEqual([0, 2, 4, 0, 0, 2, 4]);
    expect(Array.from(rs.windowIndex)).toEqual([0, 1, 2, 0, 0, 1, 2]);
    expect(Array.from(rs.split)).toEqual([0, 1, 2, 0, 0, 1, 2]);
    expect(datasetStats(rs)).toEqual({
      users: 3,
      items: 7,
      interactions: 15,
      requests: 7,
      positives: 14,
    });
    const ll = buildRequests(x, { windowSize: 2, split: { mode: 'leave-last' } });
    expect(Array.from(ll.split)).toEqual([0, 1, 2, 0, 0, 1, 2]);
    expect(requestRanges(rs, 5, 1)).toEqual({ historyStart: 10, windowStart: 11, windowEnd: 13 });
  });

  it('splits per user over kept windows in time order (ratio, 15 windows -> 11/2/2)', () => {
    const items = Array.from({ length: 31 }, (_, k) => `i${k}`).join(' ');
    const x = parseInteractions(`h\nU\t${items}\n`, { format: 'sequences' });
    const rs = buildRequests(x, { windowSize: 2 });
    expect(rs.user.length).toBe(15);
    expect(Array.from(rs.split)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2]);
    expect(rs.splitSizes).toEqual([11, 2, 2]);
  });

  it('validates options and timestamps', () => {
    const x = parseInteractions(oneUser, { format: 'csv' });
    expect(() => buildRequests(x, { windowSize: 0 })).toThrow(RangeError);
    expect(() => buildRequests(x, { historyCap: -1 })).toThrow(RangeError);
    expect(() => buildRequests(x, { positiveThreshold: Number.NaN })).toThrow(RangeError);
    expect(() => buildRequests(x, { split: { mode: 'random' } as never })).toThrow(RangeError);
    const ts = Float64Array.from(x.timestamp);
    ts[2] = Number.NaN;
    expect(() => buildRequests({ ...x, timestamp: ts })).toThrow(/timestamps are NaN/);
    expect(buildRequests(x, { historyCap: Infinity }).protocol.historyCap).toBe(Infinity);
  });
});

describe('prepareRequests', () => {
  it('loads, filters and builds in one call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dnr-prep-'));
    try {
      const file = join(dir, 'seq.tsv');
      writeFileSync(file, 'h\nA\ta b c d e f g\nB\tc b\nC\ta b c d e f\n');
      const p = await prepareRequests(file, {
        format: 'sequences',
        minInteractions: 2,
        windowSize: 2,
      });
      // k = 2: every user has >= 2 rows; g (1 row) goes, then A has 6 rows
      expect(p.raw).toEqual({ rows: 15, users: 3, items: 7, duplicates: 0 });
      expect(p.stats).toEqual({ users: 3, items: 6, interactions: 14, requests: 7, positives: 14 });
      expect(p.stats).toEqual(datasetStats(p.requests));
      expect(p.timings.loadMs).toBeGreaterThanOrEqual(0);
      const q = await prepareRequests(file, {
        format: 'sequences',
        minInteractions: 2,
        minItemInteractions: 1,
        windowSize: 2,
      });
      expect(q.stats.items).toBe(7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
