import { createRng } from '@dnr/data';
import { describe, expect, it } from 'vitest';
import {
  buildUserItemIndex,
  createMF,
  holdOutPerUser,
  retrieverAuc,
  serializeMF,
  trainMF,
} from '../src/index';
import type { InteractionPairs, MFModel } from '../src/index';
import { accumulateSample, addL2Gradient, applyAdam, createOptimizerState } from '../src/train';
import { plantedWorld, worldPairs } from './helpers';

/** Independent reference loss: scale * sum BCE + l2/2 * sum of squared touched embedding rows. */
function referenceLoss(
  m: MFModel,
  samples: [number, number, number][],
  scale: number,
  l2: number,
): number {
  const d = m.dim;
  let loss = 0;
  const users = new Set<number>();
  const items = new Set<number>();
  for (const [u, i, y] of samples) {
    let z = m.userBias[u]! + m.itemBias[i]! + m.globalBias[0]!;
    for (let k = 0; k < d; k++) z += m.userEmb[u * d + k]! * m.itemEmb[i * d + k]!;
    const p = 1 / (1 + Math.exp(-z));
    loss += -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
    users.add(u);
    items.add(i);
  }
  loss *= scale;
  for (const u of users) for (let k = 0; k < d; k++) loss += (l2 / 2) * m.userEmb[u * d + k]! ** 2;
  for (const i of items) for (let k = 0; k < d; k++) loss += (l2 / 2) * m.itemEmb[i * d + k]! ** 2;
  return loss;
}

describe('MF gradients', () => {
  it('match central finite differences of the BCE + L2 loss', () => {
    const m = createMF(2, 3, { dim: 3, initStd: 0.5, seed: 11 });
    m.userBias.set([0.1, -0.2]);
    m.itemBias.set([0.3, 0, -0.1]);
    m.globalBias[0] = 0.05;
    const samples: [number, number, number][] = [
      [0, 1, 1],
      [0, 2, 0],
      [1, 1, 0],
      [1, 0, 1],
      [0, 1, 1],
    ];
    const scale = 1 / samples.length;
    const l2 = 0.3;
    const s = createOptimizerState(m);
    for (const [u, i, y] of samples) accumulateSample(s, u, i, y, scale);
    addL2Gradient(s, l2);
    const groups: [Float32Array, Float64Array][] = [
      [m.userEmb, s.gUser],
      [m.itemEmb, s.gItem],
      [m.userBias, s.gUserBias],
      [m.itemBias, s.gItemBias],
      [m.globalBias, s.gGlobal],
    ];
    const h = 1 / 256; // exactly representable: w +/- h is exact in float32 for |w| < 1
    let checked = 0;
    for (const [w, g] of groups) {
      for (let k = 0; k < w.length; k++) {
        const w0 = w[k]!;
        w[k] = w0 + h;
        const lp = referenceLoss(m, samples, scale, l2);
        w[k] = w0 - h;
        const lm = referenceLoss(m, samples, scale, l2);
        w[k] = w0;
        const numeric = (lp - lm) / (2 * h);
        expect(g[k]!).toBeCloseTo(numeric, 4);
        checked++;
      }
    }
    expect(checked).toBe(2 * 3 + 3 * 3 + 2 + 3 + 1);
  });

  it('returns the per-sample BCE', () => {
    const m = createMF(1, 1, { dim: 1, initStd: 0, seed: 1 });
    m.globalBias[0] = Math.log(3); // p = 0.75
    const s = createOptimizerState(m);
    expect(accumulateSample(s, 0, 0, 1, 1)).toBeCloseTo(-Math.log(0.75), 6);
    expect(accumulateSample(s, 0, 0, 0, 1)).toBeCloseTo(-Math.log(0.25), 6);
    // dBCE/dz = p - y: (0.75 - 1) + (0.75 - 0)
    expect(s.gGlobal[0]).toBeCloseTo(0.5, 6);
  });
});

describe('lazy Adam', () => {
  it('moves every touched parameter by ~lr on the first step and leaves untouched rows alone', () => {
    const m = createMF(2, 2, { dim: 2, initStd: 0.1, seed: 3 });
    const before = serializeMF(m);
    const u0 = Array.from(m.userEmb.subarray(0, 2));
    const u1 = Array.from(m.userEmb.subarray(2, 4));
    const s = createOptimizerState(m);
    accumulateSample(s, 0, 1, 1, 1);
    const g = Array.from(s.gUser.subarray(0, 2));
    applyAdam(s, 0.1, 0.9, 0.999, 1e-8);
    // first step: lr * sqrt(1-b2)/(1-b1) * (1-b1) g / (sqrt(1-b2) |g| + eps) = lr * sign(g)
    for (let k = 0; k < 2; k++) {
      expect(m.userEmb[k]!).toBeCloseTo(u0[k]! - 0.1 * Math.sign(g[k]!), 5);
    }
    expect(m.userBias[0]).toBeCloseTo(0.1, 5); // y = 1, p < 1: gradient negative -> bias up
    expect(m.globalBias[0]).toBeCloseTo(0.1, 5);
    expect(Array.from(m.userEmb.subarray(2, 4))).toEqual(u1);
    expect(m.userBias[1]).toBe(0);
    expect(m.itemBias[0]).toBe(0);
    expect(s.gUser.every((x) => x === 0)).toBe(true);
    expect(s.nTouchedUsers).toBe(0);
    // second step touches only user 1: user 0's row is not moved by its stale momentum
    const u0after = Array.from(m.userEmb.subarray(0, 2));
    accumulateSample(s, 1, 0, 0, 1);
    applyAdam(s, 0.1, 0.9, 0.999, 1e-8);
    expect(Array.from(m.userEmb.subarray(0, 2))).toEqual(u0after);
    expect(serializeMF(m)).not.toEqual(before);
  });
});

describe('trainMF', () => {
  const world = plantedWorld({ numUsers: 50, numItems: 80, perUser: 30, seed: 5 });
  const train = worldPairs(world, 0, 25);
  const test = worldPairs(world, 25, 30);
  const all = buildUserItemIndex(worldPairs(world, 0, 30));
  const cfg = {
    dim: 16,
    learningRate: 0.02,
    batchSize: 128,
    epochs: 40,
    patience: 5,
    seed: 42,
  };

  it('learns a planted low-rank world (held-out AUC > 0.8) and reports progress', () => {
    const reports: number[] = [];
    const res = trainMF(train, { ...cfg, onEpoch: (r) => reports.push(r.epoch) });
    expect(res.trainPairs + res.validationPairs).toBe(train.user.length);
    expect(res.validationPairs).toBe(50 * 2); // floor(25 * 0.1) per user
    expect(reports).toEqual(res.history.map((r) => r.epoch));
    expect(res.bestValAuc).toBeGreaterThan(0.8);
    expect(res.history[0]!.loss).toBeGreaterThan(res.history[res.bestEpoch - 1]!.loss);
    const auc = retrieverAuc(res.model, test, { seed: 1, exclude: all, negativesPerPositive: 4 });
    expect(auc).toBeGreaterThan(0.8);
    // the kept weights are the best epoch's: re-evaluating reproduces bestValAuc's epoch choice
    const best = res.history.reduce((a, b) => (b.valAuc > a.valAuc ? b : a));
    expect(res.bestEpoch).toBe(best.epoch);
    expect(res.model.meta.bestEpoch).toBe(res.bestEpoch);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const small = { ...cfg, epochs: 3 };
    const a = trainMF(train, small);
    const b = trainMF(train, small);
    const c = trainMF(train, { ...small, seed: 43 });
    expect(serializeMF(a.model)).toEqual(serializeMF(b.model));
    expect(a.history.map((r) => r.loss)).toEqual(b.history.map((r) => r.loss));
    expect(serializeMF(a.model)).not.toEqual(serializeMF(c.model));
  });

  it('stops early with patience and restores the best weights', () => {
    // a huge learning rate overfits quickly: validation AUC peaks, then declines
    const res = trainMF(train, { ...cfg, learningRate: 0.2, epochs: 50, patience: 2 });
    expect(res.history.length).toBeLessThan(50);
    expect(res.history.length).toBe(res.bestEpoch + 2);
  });

  it('uses explicit validation pairs and rejects bad configs', () => {
    const res = trainMF(train, { ...cfg, epochs: 2, validation: test });
    expect(res.validationPairs).toBe(test.user.length);
    expect(res.trainPairs).toBe(train.user.length);
    expect(() => trainMF(train, { ...cfg, negatives: 0 })).toThrow(/negatives/);
    expect(() => trainMF(train, { ...cfg, beta2: 1 })).toThrow(/beta2/);
    expect(() => trainMF(train, { ...cfg, seed: NaN })).toThrow(/seed/);
    const badPairs = { ...train, item: train.item.map((i, k) => (k === 3 ? 80 : i)) };
    expect(() => trainMF(badPairs, cfg)).toThrow(/pairs\.item\[3\] = 80/);
  });

  it('trains all epochs on the last weights without validation', () => {
    const res = trainMF(train, { ...cfg, epochs: 2, validationFraction: 0 });
    expect(res.history.length).toBe(2);
    expect(Number.isNaN(res.bestValAuc)).toBe(true);
    expect(res.bestEpoch).toBe(2);
  });
});

describe('holdOutPerUser', () => {
  it('holds out floor(n * fraction) pairs of each user', () => {
    const pairs = {
      numUsers: 3,
      numItems: 20,
      user: Int32Array.from([0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]),
      item: Int32Array.from([0, 1, 2, 3, 4, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    };
    const { train, heldOut } = holdOutPerUser(pairs, 0.2, createRng(1));
    const count = (p: InteractionPairs, u: number): number => p.user.filter((x) => x === u).length;
    expect([count(heldOut, 0), count(heldOut, 1), count(heldOut, 2)]).toEqual([1, 0, 2]);
    expect(train.user.length + heldOut.user.length).toBe(17);
  });
});
