// The tfjs union registers every gradient and the cpu backend, as an application would (this package
// itself depends only on tfjs-core). wasm is registered for the backend-parity tests.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import type { Scalar } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from 'vitest';
import {
  disposeBatch,
  ranksFromScores,
  toBatchTensors,
  type RerankBatchArrays,
  type Reranker,
} from '../src/index';

/** Switches the active backend (cpu or wasm) and waits until it is ready. */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  await tf.setBackend(name);
  await tf.ready();
}

/** Element-wise closeness with a message naming the case. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what = '',
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const err = Math.abs(a - e) / Math.max(1, Math.abs(e));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `${what}: worst relative error at ${at}`).toBeLessThanOrEqual(tol);
}

/** Deterministic pseudo-random float32 data in [-1, 1). */
export function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

/** Sizes of the planted task of {@link plantedTask}. */
export const PLANTED = { numItems: 40, numUsers: 8, batch: 16, listSize: 10, history: 6 } as const;

/**
 * A learnable task for reranker smoke tests: user u likes items i with (i + u) % 4 == 0. Lists of
 * 10 random items, retriever scores = noisy labels, history = two padding slots + liked items.
 */
export function plantedTask(seed: number): { arrays: RerankBatchArrays; labels: Float32Array } {
  const { numItems, numUsers, batch: B, listSize: L, history: H } = PLANTED;
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const user = new Int32Array(B);
  const history = new Int32Array(B * H);
  const items = new Int32Array(B * L);
  const scores = new Float32Array(B * L);
  const labels = new Float32Array(B * L);
  for (let b = 0; b < B; b++) {
    const u = b % numUsers;
    user[b] = u;
    for (let j = 0; j < H; j++) {
      history[b * H + j] = j < 2 ? numItems : (4 * Math.floor(rnd() * 10) - u + 40) % numItems;
    }
    for (let j = 0; j < L; j++) {
      const it = Math.floor(rnd() * numItems);
      items[b * L + j] = it;
      const y = (it + u) % 4 === 0 ? 1 : 0;
      labels[b * L + j] = y;
      scores[b * L + j] = 0.5 * y + rnd();
    }
  }
  return { arrays: { user, history, items, scores }, labels };
}

/** `steps` Adam steps of BCE on the planted task (seed 5); returns each step's loss. */
export function trainSteps(model: Reranker, steps: number, lr = 0.01): number[] {
  const { arrays, labels } = plantedTask(5);
  const { numItems, numUsers, batch: B, listSize: L } = PLANTED;
  const batch = toBatchTensors(arrays, { numItems, numUsers });
  batch.ranks = ranksFromScores(batch.scores);
  const y = tf.tensor2d(labels, [B, L]);
  const opt = tf.train.adam(lr);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = opt.minimize(
      () => tf.losses.sigmoidCrossEntropy(y, model.score(batch, { training: true })) as Scalar,
      true,
      model.trainableVariables(),
    );
    losses.push(loss?.dataSync()[0] ?? NaN);
    loss?.dispose();
  }
  opt.dispose();
  y.dispose();
  disposeBatch(batch);
  return losses;
}
