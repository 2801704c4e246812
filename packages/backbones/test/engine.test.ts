import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ParamStore,
  SeedSequence,
  createTransformerBlockParams,
  dense,
  embeddingLookup,
  keyPaddingBias,
  layerNorm,
  layerNormReference,
  multiHeadSelfAttention,
  multiHeadSelfAttentionReference,
  seededDropout,
  transformerBlock,
} from '../src/index';
import { expectClose, randomData, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

function gradsOf(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): Float32Array[] {
  return tf.tidy(() => {
    // a fixed random projection of the output makes the check sensitive to every element
    const g = tf.grads((...xs: Tensor[]) => {
      const y = f(...xs);
      const proj = tf.tensor(randomData(y.size, 99), y.shape);
      return tf.sum(tf.mul(y, proj));
    })(inputs);
    return g.map((t) => t.dataSync() as Float32Array);
  });
}

describe('dense', () => {
  const x = () => tf.tensor2d(randomData(6 * 5, 1), [6, 5]);
  const w = () => tf.tensor2d(randomData(5 * 4, 2), [5, 4]);
  const b = () => tf.tensor1d(randomData(4, 3));

  it('matches a hand-computed value', async () => {
    await useBackend('cpu');
    const y = dense(
      tf.tensor2d([[1, 2]]),
      tf.tensor2d([
        [1, 0, -1],
        [2, 1, 0],
      ]),
      tf.tensor1d([0.5, 0, 1]),
    );
    expect(Array.from(y.dataSync())).toEqual([5.5, 2, 0]);
    const r = dense(
      tf.tensor2d([[1, 2]]),
      tf.tensor2d([
        [1, 0, -1],
        [2, 1, 0],
      ]),
      tf.tensor1d([0.5, 0, 1]),
      'relu',
    );
    expect(Array.from(r.dataSync())).toEqual([5.5, 2, 0]);
  });

  it.each(['linear', 'relu'] as const)('gradients equal plain tfjs (%s, cpu)', async (act) => {
    await useBackend('cpu');
    const ref = (a: Tensor, ww: Tensor, bb: Tensor) => {
      const y = tf.add(tf.matMul(a as Tensor2D, ww as Tensor2D), bb);
      return act === 'relu' ? tf.relu(y) : y;
    };
    const mine = (a: Tensor, ww: Tensor, bb: Tensor) =>
      dense(a as Tensor2D, ww as Tensor2D, bb as Tensor1D, act);
    const inputs = [x(), w(), b()];
    const g1 = gradsOf(mine, inputs);
    const g2 = gradsOf(ref, inputs);
    g1.forEach((g, i) => expectClose(g, g2[i] as Float32Array, 1e-5, `grad ${i}`));
    tf.dispose(inputs);
  });

  it('gradients without bias equal plain tfjs', async () => {
    await useBackend('cpu');
    const inputs = [x(), w()];
    const g1 = gradsOf((a, ww) => dense(a as Tensor2D, ww as Tensor2D), inputs);
    const g2 = gradsOf((a, ww) => tf.matMul(a as Tensor2D, ww as Tensor2D), inputs);
    g1.forEach((g, i) => expectClose(g, g2[i] as Float32Array, 1e-5, `grad ${i}`));
    tf.dispose(inputs);
  });

  it('gives the same outputs and gradients on wasm as on cpu', async () => {
    const run = () => {
      const inputs = [x(), w(), b()];
      const out = gradsOf(
        (a, ww, bb) => dense(a as Tensor2D, ww as Tensor2D, bb as Tensor1D, 'relu'),
        inputs,
      );
      const y = tf.tidy(() =>
        dense(inputs[0] as Tensor2D, inputs[1] as Tensor2D, inputs[2] as Tensor1D).dataSync(),
      );
      tf.dispose(inputs);
      return [y, ...out];
    };
    await useBackend('cpu');
    const a = run();
    await useBackend('wasm');
    const c = run();
    await useBackend('cpu');
    a.forEach((t, i) => expectClose(c[i] as Float32Array, t, 1e-4, `output ${i}`));
  });

  it('rejects mismatched shapes', async () => {
    await useBackend('cpu');
    expect(() => dense(tf.zeros([2, 3]) as Tensor2D, tf.zeros([4, 2]) as Tensor2D)).toThrow(
      /inner sizes/,
    );
  });
});

describe('embeddingLookup', () => {
  it('gathers rows and its gradient equals tf.gather (duplicates summed, cpu)', async () => {
    await useBackend('cpu');
    const table = tf.tensor2d(randomData(7 * 3, 5), [7, 3]);
    const ids = tf.tensor1d([2, 0, 2, 6, 2], 'int32');
    const rows = embeddingLookup(table, ids);
    expectClose(rows.dataSync(), tf.gather(table, ids).dataSync(), 0, 'forward');
    const g1 = gradsOf((t) => embeddingLookup(t as Tensor2D, ids), [table]);
    const g2 = gradsOf((t) => tf.gather(t, ids), [table]);
    expectClose(g1[0] as Float32Array, g2[0] as Float32Array, 1e-6, 'grad');
    // row 2 is used three times: its gradient is the sum of three projection rows
    const proj = randomData(15, 99);
    expect(g1[0]?.[6]).toBeCloseTo((proj[0] ?? 0) + (proj[6] ?? 0) + (proj[12] ?? 0), 5);
    expect(Array.from(g1[0]?.slice(3, 6) ?? [])).toEqual([0, 0, 0]); // row 1 unused
  });

  it('has a working gradient on wasm equal to cpu', async () => {
    const run = () => {
      const table = tf.tensor2d(randomData(9 * 4, 6), [9, 4]);
      const ids = tf.tensor1d([8, 1, 1, 3], 'int32');
      const g = gradsOf((t) => embeddingLookup(t as Tensor2D, ids), [table]);
      tf.dispose([table, ids]);
      return g[0] as Float32Array;
    };
    await useBackend('cpu');
    const a = run();
    await useBackend('wasm');
    const b = run();
    await useBackend('cpu');
    expectClose(b, a, 1e-6, 'wasm vs cpu');
  });
});

describe('layerNorm', () => {
  it('normalises rows (hand-computed) and matches the reference gradient', async () => {
    await useBackend('cpu');
    const y = layerNorm(tf.tensor2d([[1, 3]]), tf.tensor1d([1, 1]), tf.tensor1d([0, 0]), 0);
    expectClose(y.dataSync(), [-1, 1], 1e-6, 'value');
    const inputs = [
      tf.tensor2d(randomData(5 * 8, 7), [5, 8]),
      tf.tensor1d(randomData(8, 8)),
      tf.tensor1d(randomData(8, 9)),
    ];
    const g1 = gradsOf((a, g, b) => layerNorm(a as Tensor2D, g as Tensor1D, b as Tensor1D), inputs);
    const g2 = gradsOf(
      (a, g, b) => layerNormReference(a as Tensor2D, g as Tensor1D, b as Tensor1D),
      inputs,
    );
    g1.forEach((g, i) => expectClose(g, g2[i] as Float32Array, 1e-4, `grad ${i}`));
  });
});

describe('seededDropout', () => {
  it('is reproducible per seed, scales kept values and drops about `rate`', async () => {
    await useBackend('cpu');
    const x = tf.ones([100, 100]);
    const a = seededDropout(x, 0.25, 17).dataSync();
    const b = seededDropout(x, 0.25, 17).dataSync();
    const c = seededDropout(x, 0.25, 18).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const dropped = Array.from(a).filter((v) => v === 0).length / a.length;
    expect(dropped).toBeGreaterThan(0.22);
    expect(dropped).toBeLessThan(0.28);
    expect(new Set(Array.from(a))).toEqual(new Set([0, 1 / 0.75].map((v) => Math.fround(v))));
    expect(() => seededDropout(x, 0.5, 0)).toThrow(/non-zero/);
    expect(seededDropout(x, 0, 0)).toBe(x);
  });

  it('SeedSequence gives the same seeds after reset and never 0', () => {
    const s = new SeedSequence(5);
    const first = [s.next(), s.next(), s.next()];
    s.reset();
    expect([s.next(), s.next(), s.next()]).toEqual(first);
    expect(first.every((v) => v !== 0)).toBe(true);
    expect(new Set(first).size).toBe(3);
  });
});

describe('multi-head self-attention', () => {
  const B = 3;
  const L = 5;
  const D = 8;
  const H = 2;

  function setup() {
    const store = new ParamStore(11);
    const block = createTransformerBlockParams(store, 'b', D, 16);
    const x = tf.tensor2d(randomData(B * L * D, 12), [B * L, D]);
    const valid = tf.tensor2d([1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1], [B, L]);
    return { store, block, x, keyBias: keyPaddingBias(valid) };
  }

  it('equals the per-head reference in value and gradients (cpu, with a key mask)', async () => {
    await useBackend('cpu');
    const { store, block, x, keyBias } = setup();
    const ctx = { batch: B, length: L, heads: H, keyBias, training: false, dropout: 0 };
    const mine = tf.tidy(() => multiHeadSelfAttention(x, block.attention, ctx).dataSync());
    const ref = tf.tidy(() =>
      multiHeadSelfAttentionReference(x, block.attention, B, L, H, keyBias).dataSync(),
    );
    expectClose(mine, ref, 1e-5, 'forward');
    const vars = [x, ...Object.values(block.attention)] as Tensor[];
    const g1 = gradsOf((xi) => multiHeadSelfAttention(xi as Tensor2D, block.attention, ctx), [x]);
    const g2 = gradsOf(
      (xi) => multiHeadSelfAttentionReference(xi as Tensor2D, block.attention, B, L, H, keyBias),
      [x],
    );
    expectClose(g1[0] as Float32Array, g2[0] as Float32Array, 1e-4, 'dx');
    const wg1 = tf.tidy(() => {
      const { grads } = tf.variableGrads(
        () =>
          tf.sum(
            tf.mul(
              multiHeadSelfAttention(x, block.attention, ctx),
              tf.tensor(randomData(B * L * D, 99), [B * L, D]),
            ),
          ) as tf.Scalar,
      );
      return Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v.dataSync()]));
    });
    const wg2 = tf.tidy(() => {
      const { grads } = tf.variableGrads(
        () =>
          tf.sum(
            tf.mul(
              multiHeadSelfAttentionReference(x, block.attention, B, L, H, keyBias),
              tf.tensor(randomData(B * L * D, 99), [B * L, D]),
            ),
          ) as tf.Scalar,
      );
      return Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v.dataSync()]));
    });
    expect(Object.keys(wg1).length).toBeGreaterThanOrEqual(8);
    for (const k of Object.keys(wg2))
      expectClose(wg1[k] as Float32Array, wg2[k] as Float32Array, 1e-4, `variable ${k}`);
    expect(vars.length).toBe(9);
    store.dispose();
  });

  it('masked keys get no attention: changing a padded position does not change the others', async () => {
    await useBackend('cpu');
    const { store, block, x, keyBias } = setup();
    const ctx = { batch: B, length: L, heads: H, keyBias, training: false, dropout: 0 };
    const before = multiHeadSelfAttention(x, block.attention, ctx).arraySync();
    const xs = x.arraySync();
    (xs[5] as number[]).fill(42); // list 1, position 0 (padding)
    const after = multiHeadSelfAttention(tf.tensor2d(xs), block.attention, ctx).arraySync();
    for (const row of [0, 7, 8, 9, 14]) {
      expectClose(after[row] as number[], before[row] as number[], 1e-5, `row ${row} unchanged`);
    }
    expect(after[5]).not.toEqual(before[5]); // the padded query itself changes
    store.dispose();
  });

  it('transformer block runs on cpu and wasm with the same result and leaks nothing', async () => {
    const run = () => {
      const { store, block, x, keyBias } = setup();
      const seeds = new SeedSequence(3);
      const before = tf.memory().numTensors;
      const out = tf.tidy(() =>
        transformerBlock(x, block, {
          batch: B,
          length: L,
          heads: H,
          keyBias,
          training: true,
          dropout: 0.1,
          seeds,
        }).dataSync(),
      );
      expect(tf.memory().numTensors).toBe(before);
      store.dispose();
      tf.dispose([x, keyBias]);
      return out;
    };
    await useBackend('cpu');
    const a = run();
    await useBackend('wasm');
    const b = run();
    await useBackend('cpu');
    expectClose(b, a, 1e-4, 'wasm vs cpu');
  });
});

describe('columnSums', () => {
  it('equals tf.sum over axis 0 (the dense and layer-norm bias gradients)', async () => {
    const { columnSums } = await import('../src/engine/dense');
    const m = tf.tensor2d(randomData(37 * 5, 13), [37, 5]);
    const expected = Array.from(tf.sum(m, 0).dataSync());
    const got = columnSums(m);
    expect(got.shape).toEqual([5]);
    const values = Array.from(got.dataSync());
    values.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    // hand-computed: [[1, 2], [3, 4], [5, 6]] -> [9, 12]
    expect(Array.from(columnSums(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2])).dataSync())).toEqual([
      9, 12,
    ]);
    tf.dispose([m, got]);
  });
});
