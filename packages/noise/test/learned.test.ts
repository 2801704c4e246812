import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LearnedNoiseGenerator,
  noiseGeneratorFromConfig,
  stopGradient,
  synthesizeScores,
} from '../src/index.js';
import type { LearnedNoiseGeneratorConfig } from '../src/index.js';
import { leakedTensors, useCpu } from './helpers.js';

beforeAll(useCpu);

const B = 3;
const L = 7;
const labels = (): tf.Tensor2D =>
  tf.tensor2d(
    Array.from({ length: B * L }, (_, i) => (i % 3 === 0 ? 1 : 0)),
    [B, L],
  );

const maxAbs = (t: tf.Tensor): number => {
  const m = tf.tidy(() => tf.max(tf.abs(t)));
  const v = m.dataSync()[0] as number;
  m.dispose();
  return v;
};

function values(t: tf.Tensor): Float32Array {
  const v = Float32Array.from(t.dataSync());
  t.dispose();
  return v;
}

describe('LearnedNoiseGenerator', () => {
  it('has the documented defaults, shapes and variables', () => {
    const g = new LearnedNoiseGenerator({ seed: 1 });
    expect(g.getConfig()).toEqual({
      type: 'learned',
      seed: 1,
      latentDim: 16,
      hiddenUnits: 128,
      contextDim: 0,
      activation: 'sigmoid',
      maxDeviation: null,
    });
    expect(g.trainableVariables().map((v) => v.shape)).toEqual([[17, 128], [128], [128, 1], [1]]);
    expect(g.trainableVariables().every((v) => v.trainable)).toBe(true);
    expect(g.weightShapes()['dense1/kernel']).toEqual([17, 128]);
    // Glorot-uniform kernel within ±sqrt(6 / (fanIn + fanOut)), biases zero
    const w = g.getWeights();
    const limit = Math.sqrt(6 / (17 + 128));
    expect(Math.max(...(w['dense1/kernel'] ?? []).map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Array.from(w['dense1/bias'] ?? [1])).toEqual(new Array(128).fill(0));
    g.dispose();
  });

  it('samples [B, L] float32 in the activation range, leaks nothing, throws at inference', () => {
    const y = labels();
    for (const [activation, lo, hi] of [
      ['sigmoid', 0, 1],
      ['tanh', -1, 1],
    ] as const) {
      const g = new LearnedNoiseGenerator({ seed: 2, activation, hiddenUnits: 16 });
      let eps: tf.Tensor2D | undefined;
      expect(leakedTensors(() => (eps = g.sample(y, { training: true })))).toBe(1);
      expect(eps?.shape).toEqual([B, L]);
      expect(eps?.dtype).toBe('float32');
      const v = values(eps as tf.Tensor2D);
      expect(v.every((x) => x > lo && x < hi)).toBe(true);
      expect(() => g.sample(y, { training: false })).toThrow(/only defined in training/);
      g.dispose();
    }
    y.dispose();
  });

  it('maxDeviation softly bounds the identity output to [-m, m]', () => {
    const y = labels();
    const g = new LearnedNoiseGenerator({
      seed: 3,
      activation: 'identity',
      maxDeviation: 0.05,
      hiddenUnits: 8,
    });
    // scale the output layer up so that the raw output is far outside ±0.05
    const w = g.getWeights();
    w['dense2/kernel'] = (w['dense2/kernel'] as Float32Array).map((x) => x * 100);
    w['dense2/bias'] = Float32Array.of(3);
    g.setWeights(w);
    const v = values(g.sample(y, { training: true }));
    expect(v.every((x) => Math.abs(x) <= Math.fround(0.05))).toBe(true);
    expect(v.some((x) => Math.abs(x) > 0.04)).toBe(true);
    expect(g.support().positive).toEqual([-0.05, 0.05]);
    expect(
      new LearnedNoiseGenerator({ seed: 3, activation: 'identity' }).support().negative,
    ).toEqual([-Infinity, Infinity]);
    g.dispose();
    y.dispose();
  });

  it('is reproducible by seed (weights and z), advances per call, and seeks', () => {
    const y = labels();
    const g1 = new LearnedNoiseGenerator({ seed: 5, hiddenUnits: 8 });
    const g2 = new LearnedNoiseGenerator({ seed: 5, hiddenUnits: 8 });
    const g3 = new LearnedNoiseGenerator({ seed: 6, hiddenUnits: 8 });
    const a = values(g1.sample(y, { training: true }));
    expect(values(g2.sample(y, { training: true }))).toEqual(a);
    expect(values(g3.sample(y, { training: true }))).not.toEqual(a);
    const b = values(g1.sample(y, { training: true }));
    expect(b).not.toEqual(a);
    g1.seek(0);
    expect(values(g1.sample(y, { training: true }))).toEqual(a);
    expect(g1.position).toBe(1);
    [g1, g2, g3].forEach((g) => g.dispose());
    y.dispose();
  });

  it('is differentiable: every variable gets a non-zero gradient through sample() and Eq. 4', () => {
    const y = labels();
    for (const activation of ['sigmoid', 'tanh', 'identity'] as const) {
      const g = new LearnedNoiseGenerator({ seed: 7, activation, hiddenUnits: 16, latentDim: 4 });
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => {
        const eps = g.sample(y, { training: true });
        const xhat = synthesizeScores(y, eps, { alpha: 0.4 });
        // a stand-in "frozen reranker" loss: BCE of x̂ used as logits
        return tf.losses.sigmoidCrossEntropy(y, tf.mul(xhat, 3)) as tf.Scalar;
      }, g.trainableVariables());
      const names = g.trainableVariables().map((v) => v.name);
      expect(Object.keys(grads).sort()).toEqual([...names].sort());
      for (const name of names) {
        expect(maxAbs(grads[name] as tf.Tensor)).toBeGreaterThan(0);
      }
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      g.dispose();
    }
    y.dispose();
  });

  it('uses detached context features ([B, L, c] or [B, c]) and validates them', () => {
    const y = labels();
    const g = new LearnedNoiseGenerator({ seed: 8, contextDim: 2, hiddenUnits: 8 });
    expect(g.inputDim).toBe(1 + 16 + 2);
    const src = tf.variable(tf.ones([B, 2]), true, 'test-context-source');
    const perList = tf.tidy(() => tf.mul(src, 2));
    const perItem = tf.tidy(() => tf.tile(tf.expandDims(perList, 1), [1, L, 1]));
    g.seek(0);
    const a = values(g.sample(y, { training: true, context: perList }));
    g.seek(0);
    const b = values(g.sample(y, { training: true, context: perItem }));
    expect(b).toEqual(a);
    // no gradient reaches the variable that produced the context
    const { value, grads } = tf.variableGrads(() => {
      const ctx = tf.mul(src, 2);
      return tf.sum(g.sample(y, { training: true, context: ctx })) as tf.Scalar;
    }, [src, ...g.trainableVariables()]);
    expect(maxAbs(grads[src.name] as tf.Tensor)).toBe(0);
    expect(maxAbs(grads[g.trainableVariables()[0]?.name ?? ''] as tf.Tensor)).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);

    expect(() => g.sample(y, { training: true })).toThrow(
      /contextDim is 2 but options.context is missing/,
    );
    const wrong = tf.zeros([B, 3]);
    expect(() => g.sample(y, { training: true, context: wrong })).toThrow(
      /context must be \[3, 7, 2\] or \[3, 2\], got \[3, 3\]/,
    );
    const noCtx = new LearnedNoiseGenerator({ seed: 8, hiddenUnits: 4 });
    expect(() => noCtx.sample(y, { training: true, context: perList })).toThrow(/contextDim is 0/);
    tf.dispose([y, src, perList, perItem, wrong]);
    g.dispose();
    noCtx.dispose();
  });

  it('round-trips config and weights (checkpoint)', () => {
    const y = labels();
    const g = new LearnedNoiseGenerator({
      seed: 9,
      activation: 'identity',
      maxDeviation: 2,
      hiddenUnits: 8,
      latentDim: 3,
    });
    // move the weights away from the seeded init
    const w = g.getWeights();
    for (const k of Object.keys(w)) w[k] = (w[k] as Float32Array).map((x, i) => x + 0.01 * (i % 5));
    g.setWeights(w);
    const config = JSON.parse(JSON.stringify(g.getConfig())) as LearnedNoiseGeneratorConfig;
    const h = noiseGeneratorFromConfig(config) as LearnedNoiseGenerator;
    expect(h.getConfig()).toEqual(g.getConfig());
    h.setWeights(g.getWeights());
    expect(h.getWeights()).toEqual(g.getWeights());
    expect(values(h.sample(y, { training: true }))).toEqual(
      values(g.sample(y, { training: true })),
    );
    expect(() => h.setWeights({ ...w, 'dense1/bias': new Float32Array(3) })).toThrow(
      /dense1\/bias must be a Float32Array of length 8 \(shape \[8\]\), got length 3/,
    );
    expect(() => h.setWeights({ ...w, extra: new Float32Array(1) })).toThrow(
      /unknown weight "extra"/,
    );
    g.dispose();
    h.dispose();
    y.dispose();
  });

  it('rejects bad config naming the field', () => {
    expect(() => new LearnedNoiseGenerator({ seed: 1, latentDim: -1 })).toThrow(
      /latentDim must be .* got -1/,
    );
    expect(() => new LearnedNoiseGenerator({ seed: 1, hiddenUnits: 0 })).toThrow(/hiddenUnits/);
    expect(() => new LearnedNoiseGenerator({ seed: 1, activation: 'relu' as 'tanh' })).toThrow(
      /activation must be one of sigmoid, identity, tanh, got "relu"/,
    );
    expect(
      () => new LearnedNoiseGenerator({ seed: 1, activation: 'sigmoid', maxDeviation: 1 }),
    ).toThrow(/maxDeviation \(1\) applies only to activation 'identity'/);
    expect(
      () => new LearnedNoiseGenerator({ seed: 1, activation: 'identity', maxDeviation: 0 }),
    ).toThrow(/maxDeviation/);
    expect(() => noiseGeneratorFromConfig({ type: 'learned', seed: 1, hidden: 3 })).toThrow(
      /unknown config field "hidden"/,
    );
  });

  it('frees its variables on dispose and refuses use afterwards', () => {
    const before = tf.memory().numTensors;
    const g = new LearnedNoiseGenerator({ seed: 10, hiddenUnits: 4 });
    expect(tf.memory().numTensors).toBe(before + 4);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const y = labels();
    expect(() => g.sample(y, { training: true })).toThrow(/after dispose/);
    y.dispose();
  });
});

describe('stopGradient', () => {
  it('passes values and blocks gradients', () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'test-stop-gradient');
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.add(tf.mul(v, v), stopGradient(tf.mul(v, 10)))) as tf.Scalar,
      [v],
    );
    expect(value.dataSync()[0]).toBe(14 + 60);
    expect(Array.from((grads[v.name] as tf.Tensor).dataSync())).toEqual([2, 4, 6]);
    tf.dispose([v, value, ...Object.values(grads)]);
  });
});
