import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Prm,
  REQUIRED_GRADIENT_KERNELS,
  assertGradientsRegistered,
  dense,
  disposeBatch,
  measurePrmTraining,
  missingGradientsMessage,
  ranksFromScores,
  setBatchedMatMulMode,
  setDenseMode,
  syntheticBatch,
  toBatchTensors,
  type PrmConfig,
} from '../src/index';
import { randomData, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

afterEach(() => {
  setDenseMode('fast');
  setBatchedMatMulMode('auto');
});

const B = 4;
const L = 5;
const H = 6;
const small: PrmConfig = {
  numItems: 30,
  numUsers: 7,
  dim: 8,
  heads: 2,
  ffnDim: 16,
  blocks: 1,
  maxListSize: L,
  historyLength: H,
  dropout: 0.1,
  attentionDropout: 0.1,
};

/** Runs `fn` and returns the kernels whose registered (tfjs) gradient functions it called. */
function tfjsGradientsUsedBy(fn: () => void): Set<string> {
  const used = new Set<string>();
  const restore: (() => void)[] = [];
  // every exported kernel-name constant (tf.Add === 'Add', ...); other strings have no gradient
  const exported: unknown[] = Object.values(tf);
  const names = new Set(exported.filter((v): v is string => typeof v === 'string'));
  for (const name of names) {
    const config = tf.getGradient(name) as GradConfig | undefined;
    if (config === undefined) continue;
    const original = config.gradFunc;
    config.gradFunc = (dy, saved, attrs) => {
      used.add(name);
      return original(dy, saved, attrs);
    };
    restore.push(() => {
      config.gradFunc = original;
    });
  }
  try {
    fn();
  } finally {
    restore.forEach((r) => r());
  }
  return used;
}

/** One backward pass of PRM over all its variables (loss: a fixed projection of the logits). */
function prmBackward(config: PrmConfig, withRanks: boolean): void {
  const model = new Prm(config);
  const batch = toBatchTensors(syntheticBatch(B, L, H, config.numItems, config.numUsers, 5));
  if (withRanks) batch.ranks = ranksFromScores(batch.scores);
  const proj = tf.tensor2d(randomData(B * L, 11), [B, L]);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(model.score(batch, { training: true }), proj)),
    model.trainableVariables(),
  );
  for (const g of Object.values(grads)) expect(g.shape.length).toBeGreaterThan(0);
  tf.dispose([value, proj, ...Object.values(grads)]);
  disposeBatch(batch);
  model.dispose();
}

/** Runs `fn` with `kernel`'s registered gradient removed (as if only tfjs-core were loaded). */
function withoutGradient(kernel: string, fn: () => void): void {
  const config = tf.getGradient(kernel);
  expect(config, `${kernel} has a gradient while testing`).toBeDefined();
  tf.unregisterGradient(kernel);
  try {
    fn();
  } finally {
    tf.registerGradient(config);
  }
}

describe('assertGradientsRegistered', () => {
  it('passes once @tensorflow/tfjs is imported (test/helpers.ts does)', () => {
    expect(() => assertGradientsRegistered('test')).not.toThrow();
  });

  it('names the context and the missing kernels and says how to fix it', () => {
    const lookup = (k: string) => (k === 'RealDiv' || k === 'BatchMatMul' ? undefined : {});
    let message = '';
    try {
      assertGradientsRegistered('training PRM', lookup);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('training PRM needs tfjs gradient functions');
    expect(message).toContain('for BatchMatMul, RealDiv.');
    expect(message).not.toContain('Add');
    expect(message).toContain('@tensorflow/tfjs-core alone registers no gradients');
    expect(message).toContain(`import '@tensorflow/tfjs'`);
    expect(message).toContain(`'@tensorflow/tfjs-node' / '@tensorflow/tfjs-node-gpu'`);
    expect(message).toBe(missingGradientsMessage('training PRM', ['BatchMatMul', 'RealDiv']));
    expect(() => assertGradientsRegistered('x', () => ({}))).not.toThrow();
    // tfjs-core alone: nothing registered
    expect(() => assertGradientsRegistered('x', () => undefined)).toThrow(
      REQUIRED_GRADIENT_KERNELS.join(', '),
    );
  });

  it('without a gradient: inference works, training entry points throw the helpful error', () => {
    withoutGradient('RealDiv', () => {
      const model = new Prm(small);
      const batch = toBatchTensors(syntheticBatch(B, L, H, small.numItems, small.numUsers, 2));
      const logits = model.score(batch, { training: false });
      expect(logits.shape).toEqual([B, L]);
      expect(model.getWeights().length).toBeGreaterThan(0);
      expect(() => model.trainableVariables()).toThrow(
        /^Prm\.trainableVariables\(\) \(training\) needs .* RealDiv\. .*import '@tensorflow\/tfjs'/,
      );
      // training through tf.grads with hand-picked variables is caught by dense() on the tape
      const x = tf.tensor2d(randomData(6, 1), [3, 2]);
      const w = tf.tensor2d(randomData(8, 2), [2, 4]);
      expect(() => tf.grads((a: Tensor) => tf.sum(dense(a as Tensor2D, w)))([x])).toThrow(
        /^dense\(\) under a gradient tape \(training\) needs .* RealDiv\./,
      );
      expect(() => measurePrmTraining({ batchSize: 2, listSize: 3, historyLength: 3 })).toThrow(
        /^measurePrmTraining\(\) needs/,
      );
      tf.dispose([logits, x, w]);
      disposeBatch(batch);
      model.dispose();
    });
  });
});

describe('REQUIRED_GRADIENT_KERNELS', () => {
  it('are exactly the tfjs gradients PRM training runs (no GatherV2 / UnsortedSegmentSum)', async () => {
    const used = new Set<string>();
    const add = (s: Set<string>) => s.forEach((k) => used.add(k));
    add(tfjsGradientsUsedBy(() => prmBackward({ ...small, scoreUsage: 'concat' }, true)));
    add(
      tfjsGradientsUsedBy(() => prmBackward({ ...small, scoreUsage: 'add', norm: 'pre' }, false)),
    );
    add(
      tfjsGradientsUsedBy(() =>
        prmBackward(
          {
            ...small,
            scoreUsage: 'weight',
            userEncoder: 'mean',
            rankEmbedding: false,
            userIdEmbedding: false,
          },
          false,
        ),
      ),
    );
    // the plain tfjs paths (benchmark switches)
    setDenseMode('tfjs');
    setBatchedMatMulMode('tfjs');
    add(tfjsGradientsUsedBy(() => prmBackward(small, true)));
    setDenseMode('fast');
    setBatchedMatMulMode('auto');
    // wasm (no UnsortedSegmentSum kernel): our code must not need tfjs's gather gradient there
    await useBackend('wasm');
    try {
      const onWasm = tfjsGradientsUsedBy(() =>
        prmBackward({ ...small, scoreUsage: 'concat' }, true),
      );
      expect(onWasm.has('GatherV2')).toBe(false);
      add(onWasm);
    } finally {
      await useBackend('cpu');
    }
    expect([...used].sort()).toEqual([...REQUIRED_GRADIENT_KERNELS].sort());
  });
});
