/**
 * Compares the package against an independent, deliberately naive implementation of the
 * definitions (explicit comparator sort on index pairs, textbook formulas, O(n^2) pair counting
 * for AUC) on many seeded random cases with heavy ties.
 */
import { describe, expect, it } from 'vitest';
import {
  auc,
  createListMetricsAccumulatorAtKs,
  evaluateLists,
  evaluateListsAtKs,
  f1AtK,
  hitRatioAtK,
  mapAtK,
  ndcgAtK,
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

interface RefList {
  hr: number;
  ndcg: number;
  map: number;
  f1: number;
  auc: number;
}

function pairAuc(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i]! > scores[j]!) wins += 1;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  return pairs === 0 ? NaN : wins / pairs;
}

function refList(scores: number[], labels: number[], k: number): RefList | null {
  const npos = labels.filter((y) => y === 1).length;
  if (npos === 0) return null;
  const pairs = scores.map((s, i) => ({ s, i, y: labels[i]! }));
  pairs.sort((a, b) => (a.s !== b.s ? (a.s > b.s ? -1 : 1) : a.i - b.i));
  const top = pairs.slice(0, k);
  const hits = top.filter((p) => p.y === 1).length;
  let dcg = 0;
  top.forEach((p, r) => {
    dcg += (2 ** p.y - 1) / Math.log2(r + 2);
  });
  let idcg = 0;
  for (let r = 0; r < Math.min(npos, k); r++) idcg += 1 / Math.log2(r + 2);
  let ap = 0;
  let seen = 0;
  top.forEach((p, r) => {
    if (p.y === 1) {
      seen++;
      ap += seen / (r + 1);
    }
  });
  const P = hits / k;
  const R = hits / npos;
  return {
    hr: hits / k,
    ndcg: dcg / idcg,
    map: ap / Math.min(npos, k),
    f1: hits === 0 ? 0 : (2 * P * R) / (P + R),
    auc: pairAuc(scores, labels),
  };
}

function refLists(scores: number[], labels: number[], listSize: number, k: number) {
  const used: RefList[] = [];
  for (let o = 0; o < scores.length; o += listSize) {
    const r = refList(scores.slice(o, o + listSize), labels.slice(o, o + listSize), k);
    if (r) used.push(r);
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const aucs = used.map((r) => r.auc).filter((a) => !Number.isNaN(a));
  return {
    hr: mean(used.map((r) => r.hr)),
    ndcg: mean(used.map((r) => r.ndcg)),
    map: mean(used.map((r) => r.map)),
    f1: mean(used.map((r) => r.f1)),
    auc: mean(aucs),
    aucGlobal: pairAuc(scores, labels),
    lists: used.length,
  };
}

function close(actual: number, expected: number, what: string): void {
  if (Number.isNaN(expected)) {
    expect(actual, what).toBeNaN();
  } else {
    expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
      1e-12,
    );
  }
}

interface Case {
  scores: number[];
  labels: number[];
  listSize: number;
  k: number;
}

function randomCase(rand: () => number): Case {
  const listSize = 1 + Math.floor(rand() * (rand() < 0.2 ? 70 : 12)); // some lists > merge threshold
  const lists = 1 + Math.floor(rand() * 8);
  const k = 1 + Math.floor(rand() * (listSize + 3)); // sometimes k > listSize
  const tieSet = [-1, -0, 0, 0.25, 0.5, 1, 2];
  const mode = rand();
  const posRate = rand();
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < lists * listSize; i++) {
    scores.push(
      mode < 0.5 ? tieSet[Math.floor(rand() * tieSet.length)]! : Math.round(rand() * 1e6) / 1e3,
    );
    labels.push(rand() < posRate ? 1 : 0);
  }
  return { scores, labels, listSize, k };
}

describe('agreement with an independent implementation (seeded random cases)', () => {
  it('evaluateLists on 400 cases with ties, empty lists, k > listSize', () => {
    const rand = mulberry32(20240611);
    for (let c = 0; c < 400; c++) {
      const { scores, labels, listSize, k } = randomCase(rand);
      const got = evaluateLists({ scores, labels, listSize, k });
      const want = refLists(scores, labels, listSize, k);
      const tag = `case ${c} (listSize ${listSize}, k ${k})`;
      expect(got.lists, tag).toBe(want.lists);
      for (const key of ['hr', 'ndcg', 'map', 'f1', 'auc', 'aucGlobal'] as const) {
        close(got[key], want[key], `${tag} ${key}`);
      }
      // Single-list functions on the first list.
      const s0 = scores.slice(0, listSize);
      const y0 = labels.slice(0, listSize);
      const r0 = refList(s0, y0, k);
      close(hitRatioAtK(s0, y0, k), r0 ? r0.hr : NaN, `${tag} hitRatioAtK`);
      close(ndcgAtK(s0, y0, k), r0 ? r0.ndcg : NaN, `${tag} ndcgAtK`);
      close(mapAtK(s0, y0, k), r0 ? r0.map : NaN, `${tag} mapAtK`);
      close(f1AtK(s0, y0, k), r0 ? r0.f1 : NaN, `${tag} f1AtK`);
      close(auc(s0, y0), pairAuc(s0, y0), `${tag} auc`);
    }
  });

  it('evaluateListsAtKs and the accumulator (random batch splits) on 150 cases', () => {
    const rand = mulberry32(7);
    for (let c = 0; c < 150; c++) {
      const { scores, labels, listSize, k } = randomCase(rand);
      const ks = [k, 1, listSize + 2];
      const got = evaluateListsAtKs({ scores, labels, listSize, ks });
      const acc = createListMetricsAccumulatorAtKs({ listSize, ks });
      const lists = scores.length / listSize;
      for (let start = 0; start < lists;) {
        const end = Math.min(lists, start + Math.floor(rand() * 4)); // includes empty batches
        acc.add(
          Float64Array.from(scores.slice(start * listSize, end * listSize)),
          labels.slice(start * listSize, end * listSize),
        );
        start = end;
      }
      const streamed = acc.result();
      const bound = acc.stats().aucGlobalMaxError;
      ks.forEach((kk, t) => {
        const want = refLists(scores, labels, listSize, kk);
        const tag = `case ${c} k ${kk}`;
        expect(got[t]!.lists, tag).toBe(want.lists);
        for (const key of ['hr', 'ndcg', 'map', 'f1', 'auc', 'aucGlobal'] as const) {
          close(got[t]![key], want[key], `${tag} ${key}`);
        }
        for (const key of ['hr', 'ndcg', 'map', 'f1', 'auc', 'lists'] as const) {
          expect(streamed[t]![key], `${tag} streamed ${key}`).toBe(got[t]![key]);
        }
        if (Number.isNaN(want.aucGlobal)) expect(streamed[t]!.aucGlobal).toBeNaN();
        else {
          expect(
            Math.abs(streamed[t]!.aucGlobal - want.aucGlobal),
            `${tag} streamed aucGlobal`,
          ).toBeLessThanOrEqual(bound + 1e-12);
        }
      });
    }
  });
});
