import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { measureInference, measureMatmulGflops, measurePrmTraining } from '../src/index';
import { useBackend } from './helpers';

// Smoke test only: the measurement helpers run and report sane fields. No timing assertions
// (the CI machine's speed is not ours to test); real numbers come from bench/run-perf.mjs.
beforeAll(async () => {
  await useBackend('wasm');
});

const prm = { dim: 16, heads: 2, ffnDim: 32, blocks: 1 };

describe('perf helpers', () => {
  it('measure matmul, a training step and inference without leaking tensors', () => {
    const before = tf.memory().numTensors;
    const mm = measureMatmulGflops({ m: 64, k: 16, n: 16, reps: 2 });
    expect(mm.gflops).toBeGreaterThan(0);
    const t = measurePrmTraining({
      batchSize: 4,
      listSize: 6,
      historyLength: 5,
      steps: 1,
      warmup: 1,
      numItems: 30,
      numUsers: 5,
      prm,
      matmulGflops: 10,
    });
    expect(t.backend).toBe('wasm');
    expect(t.msPerStep).toBeGreaterThan(0);
    expect(t.flopsPerStep).toBeGreaterThan(0);
    expect(t.rooflineRatio).toBeCloseTo(t.prmEffectiveGflops / 10, 10);
    const inf = measureInference({
      listSize: 6,
      historyLength: 5,
      requests: 5,
      warmup: 2,
      batchSize: 4,
      batches: 1,
      numItems: 30,
      numUsers: 5,
      prm,
    });
    expect(inf.p99Ms).toBeGreaterThanOrEqual(inf.p50Ms);
    expect(inf.batchThroughput).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
