import * as tf from '@tensorflow/tfjs-core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Prm,
  disposeBatch,
  setPrmFastInference,
  syntheticBatch,
  toBatchTensors,
  type PrmConfig,
  type RerankBatchArrays,
} from '../src/index';
import { expectClose, randomData, useBackend } from './helpers';

const NUM_ITEMS = 30;
const NUM_USERS = 7;

afterEach(() => {
  setPrmFastInference(true);
});

/** Random weights everywhere (non-trivial layer norms and biases). */
function randomizeWeights(model: Prm, seed: number): void {
  model.setWeights(
    model.getWeights().map((w, i) => {
      const data = randomData(w.data.length, seed * 1000 + i);
      const scale = w.name.includes('gamma') ? 0.5 : 0.3;
      for (let j = 0; j < data.length; j++) {
        data[j] = (w.name.includes('gamma') ? 1 : 0) + scale * (data[j] as number);
      }
      return { name: w.name, shape: w.shape, data };
    }),
  );
}

function features(c: PrmConfig, seed: number) {
  const fi = c.itemFeatureDim ?? 0;
  const fu = c.userFeatureDim ?? 0;
  return {
    item: fi > 0 ? randomData((c.numItems + 1) * fi, seed) : undefined,
    user: fu > 0 ? randomData(c.numUsers * fu, seed + 1) : undefined,
  };
}

function batchOf(b: number, l: number, h: number, seed: number, ranks: boolean): RerankBatchArrays {
  const arrays = syntheticBatch(b, l, h, NUM_ITEMS, NUM_USERS, seed);
  if (b > 1) arrays.history.fill(NUM_ITEMS, 0, h); // one all-padding history
  for (let i = 0; i < arrays.scores.length; i++) arrays.scores[i] = Math.sin(i * 1.7 + seed);
  if (ranks) {
    arrays.ranks = new Int32Array(b * l);
    for (let i = 0; i < b * l; i++) arrays.ranks[i] = (i * 7 + seed) % l;
  }
  return arrays;
}

function compare(config: PrmConfig, what: string, b = 3, l = 9, h = 6): void {
  const model = new Prm(config, features(config, 5));
  randomizeWeights(model, 11);
  for (const ranks of [false, true]) {
    const batch = toBatchTensors(batchOf(b, l, h, 3, ranks));
    const run = (fast: boolean) => {
      setPrmFastInference(fast);
      const s = model.score(batch, { training: false });
      const st = model.encodeUser(batch, { training: false });
      const s2 = model.scoreWithState(batch, st, { training: false });
      const out = [s.dataSync(), st.dataSync(), s2.dataSync()].map((a) => Float32Array.from(a));
      tf.dispose([s, st, s2]);
      return out;
    };
    const slow = run(false);
    const fast = run(true);
    expectClose(fast[0] as Float32Array, slow[0] as Float32Array, 1e-4, `${what} score`);
    expectClose(fast[1] as Float32Array, slow[1] as Float32Array, 1e-4, `${what} state`);
    expectClose(fast[2] as Float32Array, slow[2] as Float32Array, 1e-4, `${what} withState`);
    disposeBatch(batch);
  }
  model.dispose();
}

const base: PrmConfig = {
  numItems: NUM_ITEMS,
  numUsers: NUM_USERS,
  dim: 16,
  heads: 2,
  ffnDim: 24,
  blocks: 2,
  maxListSize: 12,
  historyLength: 8,
  seed: 4,
};

describe.each(['cpu', 'wasm'] as const)('PRM fast inference equals the tfjs path (%s)', (be) => {
  it('on many configurations, random weights, training = false', async () => {
    await useBackend(be);
    const cases: [string, Partial<PrmConfig>][] = [
      ['default-like', {}],
      ['pre-norm', { norm: 'pre' }],
      ['mean encoder', { userEncoder: 'mean' }],
      ['concat', { scoreUsage: 'concat' }],
      ['add + pre', { scoreUsage: 'add', norm: 'pre' }],
      ['weight', { scoreUsage: 'weight' }],
      ['no rank, no user id', { rankEmbedding: false, userIdEmbedding: false }],
      ['0 blocks', { blocks: 0 }],
      ['dk 4 (narrow kernels)', { dim: 12, heads: 3, ffnDim: 20 }],
      ['dk 5 (scalar tails)', { dim: 10, heads: 2, ffnDim: 13 }],
      ['wide', { dim: 64, heads: 4, ffnDim: 96, blocks: 1 }],
      ['features', { itemFeatureDim: 5, userFeatureDim: 3 }],
      ['content only', { itemFeatureDim: 6, useIds: false, scoreUsage: 'concat' }],
      // (numItems + 1) * dim * 7 > CACHE_LIMIT_FLOATS: no per-item caches, products per request
      ['no caches (large catalogue)', { numItems: 150_000, scoreUsage: 'concat' }],
      ['no caches, weight', { numItems: 150_000, scoreUsage: 'weight', rankEmbedding: false }],
    ];
    for (const [what, extra] of cases) compare({ ...base, ...extra }, `${be} ${what}`);
    compare({ ...base }, `${be} full lists`, 2, 12, 8);
    compare({ ...base, dim: 32, heads: 4 }, `${be} single request`, 1, 11, 7);
  });
});

describe('PRM fast inference at the default size', () => {
  it('equals the tfjs path for d = 128, 4 heads, FFN 256, 50 candidates, 50 history items', async () => {
    await useBackend('wasm');
    const size = { dim: 128, heads: 4, ffnDim: 256, maxListSize: 50, historyLength: 50 };
    compare({ ...base, ...size }, 'default size', 2, 50, 50);
    compare({ ...base, ...size, scoreUsage: 'concat', norm: 'pre' }, 'default size pre', 1, 50, 50);
  });

  it('scores an empty candidate list like the tfjs path (shape [1, 0])', async () => {
    await useBackend('wasm');
    const model = new Prm(base);
    const batch = toBatchTensors({
      user: Int32Array.from([0]),
      history: Int32Array.from([1, 2, NUM_ITEMS]),
      items: new Int32Array(0),
      scores: new Float32Array(0),
    });
    for (const fast of [true, false]) {
      setPrmFastInference(fast);
      const s = model.score(batch, { training: false });
      expect(s.shape, `fast ${fast}`).toEqual([1, 0]);
      s.dispose();
    }
    disposeBatch(batch);
    model.dispose();
  });

  it('keeps no state between requests (a short request after a long one)', async () => {
    await useBackend('wasm');
    const config: PrmConfig = { ...base, maxListSize: 40, historyLength: 30 };
    const weights = new Prm(config);
    randomizeWeights(weights, 5);
    const w = weights.getWeights();
    weights.dispose();
    const long = toBatchTensors(batchOf(1, 40, 30, 7, false));
    const short = toBatchTensors(batchOf(1, 5, 3, 8, true));
    const run = (model: Prm, batch: typeof long) => {
      const s = model.score(batch, { training: false });
      const out = Float32Array.from(s.dataSync());
      s.dispose();
      return out;
    };
    const a = new Prm(config);
    a.setWeights(w);
    run(a, long);
    const afterLong = run(a, short);
    const b = new Prm(config);
    b.setWeights(w);
    const fresh = run(b, short);
    expect(Array.from(afterLong)).toEqual(Array.from(fresh));
    expect(afterLong.every((v) => Number.isFinite(v))).toBe(true);
    a.dispose();
    b.dispose();
    disposeBatch(long);
    disposeBatch(short);
  });
});

describe('PRM fast inference caches', () => {
  it('follow setWeights, optimizer steps and new side features', async () => {
    await useBackend('cpu');
    const config: PrmConfig = { ...base, itemFeatureDim: 4 };
    const model = new Prm(config, features(config, 1));
    const batch = toBatchTensors(batchOf(2, 9, 6, 2, false));
    const both = () => {
      setPrmFastInference(false);
      const a = model.score(batch, { training: false });
      setPrmFastInference(true);
      const b = model.score(batch, { training: false });
      const out = [Float32Array.from(a.dataSync()), Float32Array.from(b.dataSync())];
      tf.dispose([a, b]);
      return out as [Float32Array, Float32Array];
    };
    const [s0, f0] = both();
    expectClose(f0, s0, 1e-4, 'initial');
    randomizeWeights(model, 3);
    const [s1, f1] = both();
    expectClose(f1, s1, 1e-4, 'after setWeights');
    expect(Math.abs((f1[0] as number) - (f0[0] as number))).toBeGreaterThan(1e-4);
    const opt = tf.train.adam(0.05);
    const labels = tf.tensor2d(randomData(18, 9), [2, 9]);
    opt.minimize(
      () =>
        tf.losses.sigmoidCrossEntropy(labels, model.score(batch, { training: true })) as tf.Scalar,
      false,
      model.trainableVariables(),
    );
    const [s2, f2] = both();
    expectClose(f2, s2, 1e-4, 'after an Adam step');
    expect(Math.abs((f2[0] as number) - (f1[0] as number))).toBeGreaterThan(1e-5);
    model.setSideFeatures(features(config, 77));
    const [s3, f3] = both();
    expectClose(f3, s3, 1e-4, 'after new side features');
    expect(Math.abs((f3[0] as number) - (f2[0] as number))).toBeGreaterThan(1e-5);
    opt.dispose();
    labels.dispose();
    disposeBatch(batch);
    model.dispose();
  });

  it('is not used under a gradient tape or in training mode (gradients still flow)', async () => {
    await useBackend('wasm');
    const model = new Prm(base);
    const batch = toBatchTensors(batchOf(2, 9, 6, 2, false));
    const g = tf.grads((t: tf.Tensor) =>
      tf.sum(tf.mul(model.score(batch, { training: false }) as Tensor2D, t)),
    )([tf.ones([2, 9])]);
    expect(g[0]?.shape).toEqual([2, 9]);
    const vg = tf.variableGrads(
      () => tf.sum(model.score(batch, { training: false })) as tf.Scalar,
      model.trainableVariables(),
    );
    const total = Object.values(vg.grads).reduce(
      (acc, t) => acc + (tf.sum(tf.abs(t)).dataSync()[0] as number),
      0,
    );
    expect(total).toBeGreaterThan(0);
    tf.dispose([...g, vg.value, ...Object.values(vg.grads)]);
    disposeBatch(batch);
    model.dispose();
  });
});
