import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor3D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  batchedMatMul,
  batchedMatMulArrays,
  setBatchedMatMulMode,
  simdKernelAvailable,
} from '../src/index';
import { expectClose, randomData, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

function naive(
  a: Float32Array,
  b: Float32Array,
  nb: number,
  m: number,
  k: number,
  n: number,
): Float32Array {
  const c = new Float32Array(nb * m * n);
  for (let t = 0; t < nb; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++)
          s += (a[(t * m + i) * k + q] as number) * (b[(t * k + q) * n + j] as number);
        c[(t * m + i) * n + j] = s;
      }
  return c;
}

describe('SIMD batched matMul', () => {
  it('is available in Node 20', () => {
    expect(simdKernelAvailable()).toBe(true);
  });

  it('computes a hand-checked 2x2 product', () => {
    const c = batchedMatMulArrays(
      Float32Array.from([1, 2, 3, 4]),
      Float32Array.from([5, 6, 7, 8]),
      1,
      2,
      2,
      2,
    );
    expect(Array.from(c)).toEqual([19, 22, 43, 50]);
  });

  it.each([
    [3, 5, 7, 9],
    [4, 50, 32, 50],
    [2, 1, 3, 1],
    [1, 8, 1, 16],
    [5, 50, 50, 32],
  ])(
    'matches a naive product for [%i,%i,%i]x[.,.,%i] (odd rows, ragged columns)',
    (nb, m, k, n) => {
      const a = randomData(nb * m * k, 1);
      const b = randomData(nb * k * n, 2);
      expectClose(
        batchedMatMulArrays(a, b, nb, m, k, n),
        naive(a, b, nb, m, k, n),
        1e-5,
        'product',
      );
    },
  );

  it('has gradients equal to tf.matMul (cpu) and agrees on wasm', async () => {
    const run = () =>
      tf.tidy(() => {
        const a = tf.tensor3d(randomData(3 * 5 * 4, 3), [3, 5, 4]);
        const b = tf.tensor3d(randomData(3 * 4 * 6, 4), [3, 4, 6]);
        const proj = tf.tensor3d(randomData(3 * 5 * 6, 5), [3, 5, 6]);
        const f = (x: Tensor, y: Tensor) =>
          tf.sum(tf.mul(batchedMatMul(x as Tensor3D, y as Tensor3D), proj));
        const [ga, gb] = tf.grads(f)([a, b]);
        return [batchedMatMul(a, b).dataSync(), ga?.dataSync(), gb?.dataSync()] as Float32Array[];
      });
    await useBackend('cpu');
    const simd = run();
    setBatchedMatMulMode('tfjs');
    const plain = run();
    setBatchedMatMulMode('auto');
    simd.forEach((t, i) => expectClose(t, plain[i] as Float32Array, 1e-5, `output ${i}`));
    await useBackend('wasm');
    const w = run();
    await useBackend('cpu');
    w.forEach((t, i) => expectClose(t, plain[i] as Float32Array, 1e-5, `wasm ${i}`));
  });
});
