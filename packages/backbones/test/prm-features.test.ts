import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Prm,
  disposeBatch,
  loadReranker,
  serializeReranker,
  toBatchTensors,
  type PrmConfig,
} from '../src/index';
import { useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

const NUM_ITEMS = 300;
const NUM_USERS = 10;
const FI = 4;
const L = 10;
const H = 4;

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Item features ~ U(-1, 1); an item is relevant when f0 + 0.5 f1 > 0 (ids carry no signal). */
function itemFeatures(): Float32Array {
  const r = lcg(17);
  return Float32Array.from({ length: (NUM_ITEMS + 1) * FI }, () => 2 * r() - 1);
}

function relevant(f: Float32Array, item: number): boolean {
  return (f[item * FI] as number) + 0.5 * (f[item * FI + 1] as number) > 0;
}

/** Lists of random items from [lo, hi): train and test items are disjoint, so ids cannot memorise. */
function lists(f: Float32Array, b: number, lo: number, hi: number, seed: number) {
  const r = lcg(seed);
  const items = Int32Array.from({ length: b * L }, () => lo + Math.floor(r() * (hi - lo)));
  const labels = Float32Array.from(items, (it) => (relevant(f, it) ? 1 : 0));
  return {
    arrays: {
      user: Int32Array.from({ length: b }, () => Math.floor(r() * NUM_USERS)),
      history: Int32Array.from({ length: b * H }, () => Math.floor(r() * NUM_ITEMS)),
      items,
      scores: Float32Array.from({ length: b * L }, () => r()),
    },
    labels,
  };
}

function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let pos = 0;
  let neg = 0;
  let wins = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    pos++;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] === 1) continue;
      const a = scores[i] as number;
      const b = scores[j] as number;
      wins += a > b ? 1 : a === b ? 0.5 : 0;
    }
  }
  for (let j = 0; j < labels.length; j++) if (labels[j] !== 1) neg++;
  return wins / (pos * neg);
}

function trainAndTest(extra: Partial<PrmConfig>, features?: Float32Array): number {
  const config: PrmConfig = {
    numItems: NUM_ITEMS,
    numUsers: NUM_USERS,
    dim: 16,
    heads: 2,
    ffnDim: 16,
    blocks: 1,
    dropout: 0,
    maxListSize: L,
    historyLength: H,
    seed: 5,
    ...extra,
  };
  const model = new Prm(config, features ? { item: features } : undefined);
  const f = itemFeatures();
  const opt = tf.train.adam(0.03);
  for (let step = 0; step < 20; step++) {
    const { arrays, labels } = lists(f, 16, 0, 200, 100 + step);
    const batch = toBatchTensors(arrays);
    const y = tf.tensor2d(labels, [16, L]);
    opt.minimize(
      () => tf.losses.sigmoidCrossEntropy(y, model.score(batch, { training: true })) as tf.Scalar,
      false,
      model.trainableVariables(),
    );
    y.dispose();
    disposeBatch(batch);
  }
  const { arrays, labels } = lists(f, 64, 200, NUM_ITEMS, 999);
  const batch = toBatchTensors(arrays);
  const s = model.score(batch, { training: false });
  const result = auc(s.dataSync(), labels);
  s.dispose();
  disposeBatch(batch);
  opt.dispose();
  model.dispose();
  return result;
}

describe('PRM side features', () => {
  it('learn a planted feature task on unseen items; ids alone cannot', () => {
    const f = itemFeatures();
    const withFeatures = trainAndTest({ itemFeatureDim: FI }, f);
    const contentOnly = trainAndTest({ itemFeatureDim: FI, useIds: false }, f);
    const idsOnly = trainAndTest({});
    expect(withFeatures).toBeGreaterThan(0.85);
    expect(contentOnly).toBeGreaterThan(0.85);
    expect(idsOnly).toBeLessThan(0.7);
    expect(withFeatures).toBeGreaterThan(idsOnly + 0.2);
  });

  it('validates config and lengths, and are not part of the saved weights', () => {
    expect(() => new Prm({ numItems: 5, numUsers: 2, dim: 8, heads: 2, useIds: false })).toThrow(
      /itemFeatureDim/,
    );
    expect(() => new Prm({ numItems: 5, numUsers: 2, itemFeatureDim: -1 })).toThrow(
      /itemFeatureDim/,
    );
    const config: PrmConfig = {
      numItems: 5,
      numUsers: 2,
      dim: 8,
      heads: 2,
      ffnDim: 8,
      maxListSize: 3,
      historyLength: 2,
      itemFeatureDim: 2,
      userFeatureDim: 3,
    };
    const model = new Prm(config);
    expect(() => model.setSideFeatures({ item: new Float32Array(10) })).toThrow(
      /length 10, expected 6 rows x itemFeatureDim 2 = 12/,
    );
    expect(() => model.setSideFeatures({ user: new Float32Array(5) })).toThrow(/expected 2 rows/);
    const batch = toBatchTensors({
      user: Int32Array.of(1),
      history: Int32Array.of(5, 2),
      items: Int32Array.of(0, 3, 4),
      scores: Float32Array.of(0.3, 0.2, 0.1),
    });
    expect(() => model.score(batch, { training: false })).toThrow(/setSideFeatures/);
    model.setSideFeatures({ item: new Float32Array(12).fill(0.5) });
    expect(() => model.score(batch, { training: false })).toThrow(/user features/);
    model.setSideFeatures({ user: Float32Array.of(1, 2, 3, 4, 5, 6) });
    const before = model.score(batch, { training: false });
    const names = model.getWeights().map((w) => w.name);
    expect(names).toContain('features/w_item');
    expect(names.some((n) => n.includes('side'))).toBe(false);
    const loaded = loadReranker(serializeReranker(model)) as Prm;
    expect(() => loaded.score(batch, { training: false })).toThrow(/setSideFeatures/);
    loaded.setSideFeatures({
      item: new Float32Array(12).fill(0.5),
      user: Float32Array.of(1, 2, 3, 4, 5, 6),
    });
    const after = loaded.score(batch, { training: false });
    expect(Array.from(after.dataSync())).toEqual(Array.from(before.dataSync()));
    tf.dispose([before, after]);
    disposeBatch(batch);
    model.dispose();
    loaded.dispose();
    const plain = new Prm({ numItems: 5, numUsers: 2 });
    expect(() => plain.setSideFeatures({ item: new Float32Array(6) })).toThrow(
      /itemFeatureDim = 0/,
    );
    plain.dispose();
  });
});
