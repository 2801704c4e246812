import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BetaNoise,
  GaussianNoise,
  LearnedNoiseGenerator,
  ScoreAugmenter,
  classesSeparated,
  mixCoefficients,
  synthesizeScores,
} from '../src/index.js';
import type { ScoreAugmenterConfig } from '../src/index.js';
import { leakedTensors, useCpu } from './helpers.js';

beforeAll(useCpu);

const Y = [
  [1, 0],
  [0, 1],
];
const EPS = [
  [0.2, 0.9],
  [-0.5, 1.5],
];

function synth(options: Parameters<typeof synthesizeScores>[2]): number[][] {
  return tf
    .tidy(() => synthesizeScores(tf.tensor2d(Y), tf.tensor2d(EPS), options))
    .arraySync() as number[][];
}

function expectClose(actual: number[][], expected: number[][]): void {
  actual.forEach((row, i) =>
    row.forEach((v, j) => expect(v).toBeCloseTo(expected[i]?.[j] as number, 6)),
  );
}

describe('synthesizeScores (Eq. 4)', () => {
  it('linear: x̂ = (1 - α)·y + α·ε', () => {
    // α = 0.4: 0.6·1 + 0.4·0.2 = 0.68; 0.4·0.9 = 0.36; 0.4·(-0.5) = -0.2; 0.6 + 0.4·1.5 = 1.2
    expectClose(synth({ alpha: 0.4 }), [
      [0.68, 0.36],
      [-0.2, 1.2],
    ]);
  });

  it('sqrt: x̂ = √(1 - α)·y + √α·ε', () => {
    // α = 0.36: √0.64 = 0.8, √0.36 = 0.6: 0.8 + 0.12 = 0.92; 0.54; -0.3; 0.8 + 0.9 = 1.7
    expectClose(synth({ alpha: 0.36, mix: 'sqrt' }), [
      [0.92, 0.54],
      [-0.3, 1.7],
    ]);
    expect(mixCoefficients(0.36, 'sqrt').labelWeight).toBeCloseTo(0.8, 12);
  });

  it('clamps into [lo, hi] when asked', () => {
    expectClose(synth({ alpha: 0.4, clamp: [0, 1] }), [
      [0.68, 0.36],
      [0, 1],
    ]);
    expectClose(synth({ alpha: 0.36, mix: 'sqrt', clamp: [-0.1, 0.9] }), [
      [0.9, 0.54],
      [-0.1, 0.9],
    ]);
  });

  it('returns one new float32 tensor and leaks nothing', () => {
    const y = tf.tensor2d(Y);
    const e = tf.tensor2d(EPS);
    let out: tf.Tensor2D | undefined;
    expect(leakedTensors(() => (out = synthesizeScores(y, e, { alpha: 0.4, clamp: [0, 1] })))).toBe(
      1,
    );
    expect(out?.dtype).toBe('float32');
    tf.dispose([y, e, out as tf.Tensor]);
  });

  it('is differentiable w.r.t. the noise (d x̂ / d ε = α)', () => {
    const y = tf.tensor2d(Y);
    const e = tf.tensor2d(EPS);
    const g = tf.grad((n: tf.Tensor) =>
      tf.sum(synthesizeScores(y, n as tf.Tensor2D, { alpha: 0.4 })),
    )(e);
    expect(Array.from(g.dataSync())).toEqual(new Array(4).fill(Math.fround(0.4)));
    tf.dispose([y, e, g]);
  });

  it('validates alpha, mix, clamp and shapes, naming the field and value', () => {
    const y = tf.tensor2d(Y);
    const e = tf.tensor2d(EPS);
    expect(() => synthesizeScores(y, e, { alpha: 0 })).toThrow(
      /alpha must be a finite number in \(0, 1\), got 0/,
    );
    expect(() => synthesizeScores(y, e, { alpha: 1 })).toThrow(/alpha .* got 1/);
    expect(() => synthesizeScores(y, e, { alpha: Number.NaN })).toThrow(/alpha/);
    expect(() => synthesizeScores(y, e, { alpha: 0.4, mix: 'cubic' as 'sqrt' })).toThrow(
      /mix must be 'linear' or 'sqrt', got "cubic"/,
    );
    expect(() => synthesizeScores(y, e, { alpha: 0.4, clamp: [1, 0] })).toThrow(
      /clamp\[1\] .* got 0/,
    );
    const bad = tf.zeros([2, 3]) as tf.Tensor2D;
    expect(() => synthesizeScores(y, bad, { alpha: 0.4 })).toThrow(
      /same shape, got \[2, 2\] and \[2, 3\]/,
    );
    tf.dispose([y, e, bad]);
  });
});

describe('classesSeparated (protocol §0b.2)', () => {
  it('flags bounded (0, 1) noise with the linear mix at α <= 0.5', () => {
    const beta = new BetaNoise({ seed: 1 }).support();
    expect(classesSeparated(beta, { alpha: 0.4 })).toBe(true);
    expect(classesSeparated(beta, { alpha: 0.5 })).toBe(true);
    expect(classesSeparated(beta, { alpha: 0.6 })).toBe(false);
    const signed = new BetaNoise({ seed: 1, signed: true }).support();
    expect(classesSeparated(signed, { alpha: 0.4 })).toBe(false); // 0.6 - 0.4 = 0.2 < 0.4
    expect(classesSeparated(signed, { alpha: 0.3 })).toBe(true); // 0.7 - 0.3 = 0.4 >= 0.3
    expect(classesSeparated(new GaussianNoise({ seed: 1 }).support(), { alpha: 0.1 })).toBe(false);
    // sqrt mix at α = 0.4 with ε in (0, 1): √0.6 = 0.775 >= √0.4 = 0.632 -> separated
    expect(classesSeparated(beta, { alpha: 0.4, mix: 'sqrt' })).toBe(true);
  });

  it('agrees with sampled synthetic scores', () => {
    const y = tf.tensor2d(
      Array.from({ length: 400 }, (_, i) => (i % 5 === 0 ? 1 : 0)),
      [20, 20],
    );
    const gap = (aug: ScoreAugmenter): number => {
      const x = aug.synthesize(y);
      const xs = x.dataSync();
      const ys = y.dataSync();
      let minPos = Infinity;
      let maxNeg = -Infinity;
      xs.forEach((v, i) => {
        if (ys[i] === 1) minPos = Math.min(minPos, v);
        else maxNeg = Math.max(maxNeg, v);
      });
      x.dispose();
      return minPos - maxNeg;
    };
    const trivial = new ScoreAugmenter({ generator: new BetaNoise({ seed: 2 }), alpha: 0.4 });
    expect(trivial.separatesClasses()).toBe(true);
    expect(gap(trivial)).toBeGreaterThan(0);
    const overlapping = new ScoreAugmenter({
      generator: new BetaNoise({ seed: 2, signed: true }),
      alpha: 0.4,
    });
    expect(overlapping.separatesClasses()).toBe(false);
    expect(gap(overlapping)).toBeLessThan(0);
    y.dispose();
  });
});

describe('ScoreAugmenter', () => {
  const scores = (): tf.Tensor2D => tf.tensor2d([[0.9, 0.1, 0.4]]);
  const labels = (): tf.Tensor2D => tf.tensor2d([[1, 0, 0]]);

  it('returns the real scores untouched at inference and draws no noise', () => {
    const x = scores();
    const y = labels();
    const aug = new ScoreAugmenter({ generator: new GaussianNoise({ seed: 3 }), alpha: 0.4 });
    let out: tf.Tensor2D | undefined;
    expect(leakedTensors(() => (out = aug.apply(x, y, { training: false })))).toBe(0);
    expect(out).toBe(x);
    expect(aug.generator.position).toBe(0);
    tf.dispose([x, y]);
  });

  it('returns Eq. 4 synthetic scores in training (same as sampling and mixing by hand)', () => {
    const x = scores();
    const y = labels();
    const aug = new ScoreAugmenter({
      generator: new GaussianNoise({ seed: 4 }),
      alpha: 0.3,
      mix: 'sqrt',
      clamp: [-2, 2],
    });
    let out: tf.Tensor2D | undefined;
    expect(leakedTensors(() => (out = aug.apply(x, y, { training: true })))).toBe(1);
    const manual = tf.tidy(() =>
      synthesizeScores(y, new GaussianNoise({ seed: 4 }).sample(y, { training: true }), {
        alpha: 0.3,
        mix: 'sqrt',
        clamp: [-2, 2],
      }),
    );
    expect(Array.from((out as tf.Tensor2D).dataSync())).toEqual(Array.from(manual.dataSync()));
    expect(() => aug.apply(x, y, {} as { training: boolean })).toThrow(
      /options.training must be a boolean/,
    );
    const wrong = tf.zeros([1, 2]) as tf.Tensor2D;
    expect(() => aug.apply(wrong, y, { training: true })).toThrow(/differ in shape/);
    tf.dispose([x, y, out as tf.Tensor, manual, wrong]);
  });

  it('passes gradients to a learned generator through synthesize()', () => {
    const y = labels();
    const gen = new LearnedNoiseGenerator({ seed: 5, hiddenUnits: 8, activation: 'tanh' });
    const aug = new ScoreAugmenter({ generator: gen, alpha: 0.4 });
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(aug.synthesize(y))) as tf.Scalar,
      gen.trainableVariables(),
    );
    expect(Object.keys(grads)).toHaveLength(4);
    tf.dispose([value, ...Object.values(grads), y]);
    aug.dispose();
  });

  it('round-trips its config', () => {
    const aug = new ScoreAugmenter({
      generator: new BetaNoise({ seed: 6, preset: 'dnr-bl' }),
      alpha: 0.4,
      clamp: [0, 1],
    });
    const config = JSON.parse(JSON.stringify(aug.getConfig())) as ScoreAugmenterConfig;
    expect(config).toEqual({
      alpha: 0.4,
      mix: 'linear',
      clamp: [0, 1],
      generator: { type: 'beta', seed: 6, a: 2, b: 5, signed: false },
    });
    expect(ScoreAugmenter.fromConfig(config).getConfig()).toEqual(config);
  });

  it('validates its options', () => {
    expect(() => new ScoreAugmenter({ generator: new BetaNoise({ seed: 1 }), alpha: 1.5 })).toThrow(
      /ScoreAugmenter: alpha .* got 1.5/,
    );
    expect(() => new ScoreAugmenter({ generator: {} as BetaNoise, alpha: 0.5 })).toThrow(
      /generator must be a NoiseGenerator/,
    );
    expect(
      () =>
        new ScoreAugmenter({
          generator: new BetaNoise({ seed: 1 }),
          alpha: 0.5,
          lambda: 1,
        } as unknown as ConstructorParameters<typeof ScoreAugmenter>[0]),
    ).toThrow(/unknown config field "lambda"/);
  });
});
