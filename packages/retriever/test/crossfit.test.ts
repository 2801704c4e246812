import { buildRerankDataset, createRng, Split } from '@dnr/data';
import { evaluateLists } from '@dnr/metrics';
import type { RequestSet } from '@dnr/data';
import { describe, expect, it } from 'vitest';
import {
  fitRetrievers,
  mfScore,
  retrieverListDiagnostics,
  sampleNegative,
  sequenceItemIndex,
  serializeMF,
  windowPairs,
} from '../src/index';
import type { FitRetrieversOptions, FittedRetrievers } from '../src/index';
import { plantedWorld, worldRequests } from './helpers';

const world = plantedWorld({ numUsers: 60, numItems: 120, perUser: 48, seed: 9 });
// every 5th interaction is a non-positive (rating < threshold)
const requests = worldRequests(world, 6, 5);
const R = requests.user.length;
const mf: FitRetrieversOptions = {
  dim: 16,
  learningRate: 0.02,
  batchSize: 128,
  epochs: 30,
  patience: 3,
  seed: 7,
};

function pairKeys(req: RequestSet, ids: ArrayLike<number>): Set<number> {
  const p = windowPairs(req, ids);
  return new Set(Array.from(p.user, (u, k) => u * req.numItems + p.item[k]!));
}

/** Candidate lists: the window's 6 items + 14 items outside the user's sequence. */
function buildLists(req: RequestSet, scorer: FittedRetrievers, listSize = 20) {
  const rng = createRng(123);
  const all = sequenceItemIndex(req);
  const items = new Int32Array(R * listSize);
  const labels = new Uint8Array(R * listSize);
  for (let r = 0; r < R; r++) {
    const u = req.user[r]!;
    const o = req.seqStart[u]! + req.pos[r]!;
    for (let j = 0; j < req.windowSize; j++) {
      items[r * listSize + j] = req.seqItems[o + j]!;
      labels[r * listSize + j] = req.seqPositive[o + j]!;
    }
    for (let j = req.windowSize; j < listSize; j++) {
      items[r * listSize + j] = sampleNegative(all, u, rng);
    }
  }
  const ids = Int32Array.from({ length: R }, (_, r) => r);
  const scores = scorer.scoreLists(ids, items, listSize);
  return { items, labels, scores, split: req.split, listSize };
}

describe('fitRetrievers (crossfit)', () => {
  const fitted = fitRetrievers(requests, mf);

  it('fits K fold models plus a full model, with balanced per-user folds', () => {
    expect(fitted.models.map((m) => m.name)).toEqual(['fold0', 'fold1', 'full']);
    const trainIds = Array.from({ length: R }, (_, r) => r).filter((r) => requests.split[r] === 0);
    expect(Array.from(fitted.models[2]!.trainingRequests)).toEqual(trainIds);
    for (let u = 0; u < requests.numUsers; u++) {
      const folds = trainIds
        .filter((r) => requests.user[r] === u)
        .map((r) => fitted.foldOfRequest[r]);
      expect(folds.filter((f) => f === 0).length).toBe(3); // 6 training windows per user
      // alternating in time order
      for (let t = 1; t < folds.length; t++) expect(folds[t]).not.toBe(folds[t - 1]);
    }
    expect(fitted.evalModel).toBe(fitted.models[2]!.model);
    expect(fitted.usable.every((x) => x === 1)).toBe(true);
  });

  it("never scores a training request with a model that saw that request's window", () => {
    for (let r = 0; r < R; r++) {
      const m = fitted.models[fitted.modelOfRequest[r]!]!;
      if (requests.split[r] === Split.train) {
        expect(m.name).toBe(`fold${fitted.foldOfRequest[r]}`);
        expect(Array.from(m.trainingRequests)).not.toContain(r);
        const seen = pairKeys(requests, m.trainingRequests);
        const own = pairKeys(requests, [r]);
        for (const key of own) expect(seen.has(key)).toBe(false);
        expect(own.size).toBeGreaterThan(0);
      } else {
        expect(m.name).toBe('full');
        expect(fitted.foldOfRequest[r]).toBe(-1);
      }
    }
    // validation and test windows never reach any model's training pairs
    const heldIds = Array.from({ length: R }, (_, r) => r).filter((r) => requests.split[r] !== 0);
    for (const m of fitted.models) {
      for (const r of heldIds) expect(Array.from(m.trainingRequests)).not.toContain(r);
      expect(m.trainPairs).toBe(windowPairs(requests, m.trainingRequests).user.length);
    }
  });

  it('scores lists with the routed model and reports a test AUC', () => {
    const r0 = 0; // a training request (first window of user 0)
    const r1 = 7; // user 0's test window
    expect(requests.split[r0]).toBe(0);
    expect(requests.split[r1]).toBe(2);
    const items = Int32Array.from([3, 5, 3, 5]);
    const s = fitted.scoreLists(Int32Array.from([r0, r1]), items, 2);
    const m0 = fitted.models[fitted.modelOfRequest[r0]!]!.model;
    expect(s[0]).toBeCloseTo(mfScore(m0, 0, 3), 6);
    expect(s[3]).toBeCloseTo(mfScore(fitted.evalModel, 0, 5), 6);
    expect(fitted.scoreAll(r1)[5]).toBeCloseTo(s[3]!, 6);
    expect(fitted.scoreAll(r0)).toHaveLength(requests.numItems);
    expect(fitted.testAuc).toBeGreaterThan(0.75);
    expect(fitted.validationAuc).toBeGreaterThan(0.75);
    expect(() => fitted.scoreLists(Int32Array.from([0]), items, 2)).toThrow(/expected/);
    expect(() => fitted.scoreLists(Int32Array.from([R, 0]), items, 2)).toThrow(/requestIds\[0\]/);
    expect(() => fitted.scoreAll(-1)).toThrow(/requestId/);
  });

  it('can assign contiguous blocks of windows to folds', () => {
    const b = fitRetrievers(requests, { ...mf, epochs: 1, foldAssignment: 'blocks' });
    for (let u = 0; u < requests.numUsers; u++) {
      const folds = Array.from({ length: R }, (_, r) => r)
        .filter((r) => requests.user[r] === u && requests.split[r] === 0)
        .map((r) => b.foldOfRequest[r]);
      expect(folds).toEqual([0, 0, 0, 1, 1, 1]);
    }
    expect(() => fitRetrievers(requests, { ...mf, foldAssignment: 'x' as 'blocks' })).toThrow(
      /foldAssignment/,
    );
  });

  it('plugs into @dnr/data buildRerankDataset as its CandidateScorer', () => {
    const ds = buildRerankDataset(requests, fitted, { seed: 1, listSize: 20 });
    expect(ds.scores).toHaveLength(R * 20);
    const r = 3;
    const m = fitted.models[fitted.modelOfRequest[r]!]!.model;
    expect(ds.scores[r * 20]).toBeCloseTo(mfScore(m, requests.user[r]!, ds.items[r * 20]!), 6);
    const d = retrieverListDiagnostics(ds);
    expect(d.train.lists + d.validation.lists + d.test.lists).toBe(R);
    expect(d.test.auc).toBeGreaterThan(0.7);
  });

  it('is deterministic for a seed', () => {
    const again = fitRetrievers(requests, { ...mf, epochs: 2 });
    const twice = fitRetrievers(requests, { ...mf, epochs: 2 });
    again.models.forEach((m, k) =>
      expect(serializeMF(m.model)).toEqual(serializeMF(twice.models[k]!.model)),
    );
    expect(Array.from(again.foldOfRequest)).toEqual(Array.from(twice.foldOfRequest));
  });

  it('shows the leak of the shared setting on training lists', () => {
    const shared = fitRetrievers(requests, { ...mf, mode: 'shared' });
    expect(shared.models.map((m) => m.name)).toEqual(['shared']);
    const dShared = retrieverListDiagnostics(buildLists(requests, shared));
    const dCross = retrieverListDiagnostics(buildLists(requests, fitted));
    expect(dShared.train.auc).toBeGreaterThan(dCross.train.auc + 0.03);
    expect(dShared.train.auc - dShared.test.auc).toBeGreaterThan(
      dCross.train.auc - dCross.test.auc,
    );
    expect(dShared.warning).toMatch(/cross-fitting/);
  });
});

describe('fitRetrievers (temporal) and option errors', () => {
  it('fits on the earliest half of each user’s training windows; only later ones stay usable', () => {
    const t = fitRetrievers(requests, { ...mf, epochs: 2, mode: 'temporal' });
    expect(t.models.map((m) => m.name)).toEqual(['temporal']);
    const used = new Set(t.models[0]!.trainingRequests);
    for (let r = 0; r < R; r++) {
      const early = requests.split[r] === 0 && requests.windowIndex[r]! < 3;
      expect(used.has(r)).toBe(early);
      expect(t.usable[r]).toBe(early ? 0 : 1);
      expect(t.modelOfRequest[r]).toBe(0);
    }
  });

  it('rejects bad options and malformed request sets', () => {
    expect(() => fitRetrievers(requests, { ...mf, folds: 1 })).toThrow(/folds/);
    expect(() => fitRetrievers(requests, { ...mf, mode: 'x' as 'shared' })).toThrow(/mode/);
    const bad = { ...requests, pos: requests.pos.map((p, r) => (r === 2 ? 46 : p)) };
    expect(() => fitRetrievers(bad, mf)).toThrow(/requests\.pos\[2\] = 46/);
  });
});

describe('retrieverListDiagnostics', () => {
  it('computes per-list AUC and NDCG@k by hand', () => {
    const d = retrieverListDiagnostics(
      {
        // list 0 (train): order 0,1,2,3 (tie 1/2 by index); top-2 holds one of two positives
        // list 1 (test): order 3,0,1,2; the positive ties with a negative
        // list 2 (validation): no positive
        scores: Float32Array.from([0.9, 0.8, 0.8, 0.1, 0.5, 0.5, 0.2, 0.7, 0.3, 0.2, 0.1, 0]),
        labels: Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
        split: Uint8Array.from([0, 2, 1]),
        listSize: 4,
      },
      { k: 2 },
    );
    const ndcg0 = 1 / Math.log2(3) / (1 + 1 / Math.log2(3));
    expect(d.train.ndcg).toBeCloseTo(ndcg0, 6);
    expect(d.train.auc).toBeCloseTo(0.5, 6); // each positive beats 0.1, loses to 0.9
    expect(d.test.ndcg).toBe(0);
    expect(d.test.auc).toBeCloseTo(1.5 / 3, 6); // tie 1/2 + win over 0.2 + loss to 0.7
    expect(d.validation).toEqual({ lists: 1, auc: NaN, aucLists: 0, ndcg: NaN, ndcgLists: 0 });
    // an NDCG gap alone does not warn (train vs test AUC are equal here)
    expect(d.warning).toBeUndefined();
  });

  it('warns on a train/test AUC gap only, and validates shapes', () => {
    const lists = {
      scores: Float32Array.from([0.9, 0.1, 0.9, 0.1]),
      labels: Uint8Array.from([1, 0, 1, 0]),
      split: Uint8Array.from([0, 2]),
      listSize: 2,
    };
    const d = retrieverListDiagnostics(lists);
    expect(d.train.auc).toBe(1);
    expect(d.test.ndcg).toBe(1);
    expect(d.warning).toBeUndefined();
    expect(() => retrieverListDiagnostics({ ...lists, listSize: 3 })).toThrow(/scores/);
    const leaky = { ...lists, scores: Float32Array.from([0.9, 0.1, 0.1, 0.9]) };
    expect(retrieverListDiagnostics(leaky).warning).toMatch(
      /AUC train 100\.0 vs test 0\.0; NDCG@6 train 100\.0 vs test 63\.1\).*cross-fitting/,
    );
  });

  it('agrees with @dnr/metrics evaluateLists on random lists with ties', () => {
    const rng = createRng(77);
    const L = 10;
    const n = 40;
    const scores = Float32Array.from({ length: n * L }, () => Math.round(rng.next() * 6) / 6);
    const labels = Uint8Array.from({ length: n * L }, () => (rng.next() < 0.3 ? 1 : 0));
    const split = Uint8Array.from({ length: n }, (_, l) => l % 3);
    const d = retrieverListDiagnostics({ scores, labels, split, listSize: L }, { k: 4 });
    const parts = [d.train, d.validation, d.test];
    for (let sp = 0; sp < 3; sp++) {
      const ids = Array.from({ length: n }, (_, l) => l).filter((l) => split[l] === sp);
      const sub = (a: Float32Array | Uint8Array) =>
        ids.flatMap((l) => Array.from(a.subarray(l * L, (l + 1) * L)));
      const m = evaluateLists({ scores: sub(scores), labels: sub(labels), listSize: L, k: 4 });
      expect(parts[sp]!.ndcg).toBeCloseTo(m.ndcg, 10);
      expect(parts[sp]!.auc).toBeCloseTo(m.auc, 10);
    }
  });
});
