import * as tf from '@tensorflow/tfjs-core';
import type { Scalar, Tensor2D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Prm,
  disposeBatch,
  prmForwardFlops,
  resolvePrmConfig,
  toBatchTensors,
  type PrmConfig,
  type ScoreUsage,
} from '../src/index';
import { expectClose, useBackend, PLANTED, plantedTask, trainSteps } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

const { numItems: NUM_ITEMS, numUsers: NUM_USERS, batch: B, listSize: L, history: H } = PLANTED;
const small: PrmConfig = {
  numItems: NUM_ITEMS,
  numUsers: NUM_USERS,
  dim: 16,
  heads: 2,
  ffnDim: 32,
  blocks: 1,
  maxListSize: L,
  historyLength: H,
  seed: 3,
};

describe('PRM', () => {
  it('fills defaults and validates its config', () => {
    const c = resolvePrmConfig({ numItems: 10, numUsers: 2 });
    expect(c).toMatchObject({
      dim: 128,
      blocks: 2,
      heads: 4,
      ffnDim: 256,
      dropout: 0.1,
      scoreUsage: 'none',
      maxListSize: 50,
    });
    expect(() => resolvePrmConfig({ numItems: 10, numUsers: 2, dim: 10, heads: 4 })).toThrow(
      /divisible/,
    );
    expect(() => resolvePrmConfig({ numItems: 10, numUsers: 2, seed: 0 })).toThrow(/non-zero/);
    expect(() =>
      resolvePrmConfig({ numItems: 10, numUsers: 2, scoreUsage: 'mul' as ScoreUsage }),
    ).toThrow(/scoreUsage/);
    expect(() => resolvePrmConfig({ numItems: 0, numUsers: 2 })).toThrow(/numItems/);
  });

  it('scores [B, L]; score == scoreWithState(encodeUser) at inference; explicit default ranks change nothing', () => {
    const m = new Prm(small);
    const { arrays } = plantedTask(1);
    const batch = toBatchTensors(arrays);
    const y = m.score(batch, { training: false });
    expect(y.shape).toEqual([B, L]);
    expect(y.dtype).toBe('float32');
    const state = m.encodeUser(batch, { training: false });
    expect(state.shape).toEqual([B, 16]);
    expectClose(
      m.scoreWithState(batch, state, { training: false }).dataSync(),
      y.dataSync(),
      1e-6,
      'shared state',
    );
    const withRanks = m.score(
      {
        ...batch,
        ranks: tf.tensor2d(
          Int32Array.from({ length: B * L }, (_, i) => i % L),
          [B, L],
          'int32',
        ),
      },
      { training: false },
    );
    expectClose(withRanks.dataSync(), y.dataSync(), 1e-6, 'explicit default ranks');
    const reversed = m.score(
      {
        ...batch,
        ranks: tf.tensor2d(
          Int32Array.from({ length: B * L }, (_, i) => L - 1 - (i % L)),
          [B, L],
          'int32',
        ),
      },
      { training: false },
    );
    expect(Array.from(reversed.dataSync())).not.toEqual(Array.from(y.dataSync()));
    expect(() => m.scoreWithState(batch, tf.zeros([B, 8]), { training: false })).toThrow(
      /state must be/,
    );
    m.dispose();
    expect(() => m.score(batch, { training: false })).toThrow(/disposed/);
    disposeBatch(batch);
  });

  it('dropout: training outputs differ from inference and are reproducible for a seed', () => {
    const { arrays } = plantedTask(2);
    const batch = toBatchTensors(arrays);
    const a = new Prm({ ...small, dropout: 0.3 });
    const b = new Prm({ ...small, dropout: 0.3 });
    const ta = a.score(batch, { training: true }).dataSync();
    const tb = b.score(batch, { training: true }).dataSync();
    expect(Array.from(ta)).toEqual(Array.from(tb));
    const inf = a.score(batch, { training: false }).dataSync();
    expect(Array.from(ta)).not.toEqual(Array.from(inf));
    expect(Array.from(a.score(batch, { training: true }).dataSync())).not.toEqual(Array.from(ta));
    a.dispose();
    b.dispose();
    disposeBatch(batch);
  });

  it.each(['none', 'concat', 'add', 'weight'] as const)(
    'learns a planted task within 30 Adam steps (scoreUsage %s)',
    (scoreUsage) => {
      const m = new Prm({ ...small, scoreUsage, dropout: 0 });
      const losses = trainSteps(m, 30);
      const first = losses[0] ?? NaN;
      const last = losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
      expect(first).toBeGreaterThan(0.5);
      expect(last).toBeLessThan(0.6 * first);
      m.dispose();
    },
  );

  it('scoreUsage concat/add/weight make the output depend on the scores; none does not (ranks fixed)', () => {
    const { arrays } = plantedTask(3);
    for (const usage of ['none', 'concat', 'add', 'weight'] as const) {
      const m = new Prm({ ...small, scoreUsage: usage });
      const b1 = toBatchTensors(arrays);
      const b2 = toBatchTensors({ ...arrays, scores: arrays.scores.map((v) => v * 2 + 1) });
      const same =
        Array.from(m.score(b1, { training: false }).dataSync()).join() ===
        Array.from(m.score(b2, { training: false }).dataSync()).join();
      expect(same, usage).toBe(usage === 'none');
      m.dispose();
      disposeBatch(b1);
      disposeBatch(b2);
    }
  });

  it('a training step leaks no tensors (and dispose frees everything)', () => {
    const start = tf.memory().numTensors;
    const m = new Prm({ ...small, scoreUsage: 'concat' });
    const { arrays, labels } = plantedTask(4);
    const batch = toBatchTensors(arrays);
    const y = tf.tensor2d(labels, [B, L]);
    const opt = tf.train.adam(0.01);
    const step = () => {
      const state = m.encodeUser(batch, { training: true });
      tf.tidy(() => {
        opt.minimize(
          () => tf.losses.sigmoidCrossEntropy(y, m.score(batch, { training: true })) as Scalar,
          false,
          m.trainableVariables(),
        );
      });
      state.dispose();
    };
    step(); // creates Adam's slots
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    opt.dispose();
    y.dispose();
    disposeBatch(batch);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('gives the same forward output on wasm as on cpu (same seed)', async () => {
    const run = () => {
      const m = new Prm({ ...small, scoreUsage: 'add', blocks: 2 });
      const batch = toBatchTensors(plantedTask(6).arrays);
      const out = m.score(batch, { training: false }).dataSync();
      m.dispose();
      disposeBatch(batch);
      return out;
    };
    await useBackend('cpu');
    const a = run();
    await useBackend('wasm');
    const b = run();
    // a training step works on wasm too (embedding gradients without UnsortedSegmentSum)
    const m = new Prm({ ...small, userEncoder: 'transformer' });
    const losses = trainSteps(m, 2);
    expect(losses.every(Number.isFinite)).toBe(true);
    m.dispose();
    await useBackend('cpu');
    expectClose(b, a, 1e-4, 'wasm vs cpu');
  });

  it('counts forward FLOPs analytically', () => {
    // one block, d = 4, ffn 8, L = 2, B = 1, mean user encoder
    const c: PrmConfig = {
      numItems: 3,
      numUsers: 1,
      dim: 4,
      heads: 1,
      ffnDim: 8,
      blocks: 1,
      userEncoder: 'mean',
    };
    const n = 2;
    const expected =
      2 * n * 16 +
      2 * 1 * 16 +
      (4 * 2 * n * 16 + 2 * 2 * n * 2 * 4 + 2 * 2 * n * 4 * 8) +
      2 * n * 4;
    expect(prmForwardFlops(c, 1, 2, 5)).toBe(expected);
  });

  it('supports the mean user encoder and blocks = 0', () => {
    const m = new Prm({
      ...small,
      userEncoder: 'mean',
      blocks: 0,
      userIdEmbedding: false,
      rankEmbedding: false,
    });
    const batch = toBatchTensors(plantedTask(7).arrays);
    const out = m.score(batch, { training: true }) as Tensor2D;
    expect(out.shape).toEqual([B, L]);
    expect(m.trainableVariables().length).toBe(6);
    m.dispose();
    disposeBatch(batch);
  });
});
