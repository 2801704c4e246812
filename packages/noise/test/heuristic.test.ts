import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BETA_PRESETS,
  BetaNoise,
  GaussianNoise,
  LabelConditionalBetaNoise,
  fitLabelConditionalBeta,
  noiseGeneratorFromConfig,
  registeredNoiseGenerators,
  synthesizeScores,
} from '../src/index.js';
import type { NoiseGenerator } from '../src/index.js';
import { leakedTensors, mean, useCpu, variance } from './helpers.js';

beforeAll(useCpu);

const labels = (): tf.Tensor2D =>
  tf.tensor2d(
    [
      [1, 0, 0, 1, 0],
      [0, 0, 1, 0, 0],
    ],
    [2, 5],
  );

function sampleValues(g: NoiseGenerator, y: tf.Tensor2D): Float32Array {
  const eps = g.sample(y, { training: true });
  const v = Float32Array.from(eps.dataSync());
  eps.dispose();
  return v;
}

const makers: Array<[string, (seed: number) => NoiseGenerator]> = [
  ['gaussian', (seed) => new GaussianNoise({ seed })],
  ['beta', (seed) => new BetaNoise({ seed })],
  ['signed beta', (seed) => new BetaNoise({ seed, signed: true })],
  [
    'label-beta',
    (seed) =>
      new LabelConditionalBetaNoise({ seed, positive: { a: 5, b: 2 }, negative: { a: 2, b: 5 } }),
  ],
];

describe.each(makers)('%s generator contract', (_name, make) => {
  it('returns a [B, L] float32 tensor and leaks nothing', () => {
    const y = labels();
    const g = make(11);
    let eps: tf.Tensor2D | undefined;
    expect(leakedTensors(() => (eps = g.sample(y, { training: true })))).toBe(1);
    expect(eps?.shape).toEqual([2, 5]);
    expect(eps?.dtype).toBe('float32');
    eps?.dispose();
    expect(g.trainableVariables()).toEqual([]);
    y.dispose();
  });

  it('throws when training is false (noise exists only in training)', () => {
    const y = labels();
    expect(() => make(1).sample(y, { training: false })).toThrow(/only defined in training/);
    y.dispose();
  });

  it('repeats with the same seed, differs across seeds and across calls, and seeks', () => {
    const y = labels();
    const g1 = make(42);
    const g2 = make(42);
    const first = sampleValues(g1, y);
    expect(sampleValues(g2, y)).toEqual(first);
    expect(sampleValues(make(43), y)).not.toEqual(first);
    const second = sampleValues(g1, y);
    expect(second).not.toEqual(first);
    expect(g1.position).toBe(2);
    g1.seek(1);
    expect(sampleValues(g1, y)).toEqual(second);
    g1.seek(0);
    expect(sampleValues(g1, y)).toEqual(first);
    expect(() => g1.seek(-1)).toThrow(/position/);
    y.dispose();
  });

  it('round-trips its config through JSON and noiseGeneratorFromConfig', () => {
    const y = labels();
    const g = make(5);
    const config = JSON.parse(JSON.stringify(g.getConfig())) as ReturnType<
      NoiseGenerator['getConfig']
    >;
    const h = noiseGeneratorFromConfig(config);
    expect(h.getConfig()).toEqual(g.getConfig());
    expect(sampleValues(h, y)).toEqual(sampleValues(g, y));
    y.dispose();
  });
});

describe('GaussianNoise', () => {
  it('has the configured mean and std', () => {
    const y = tf.zeros([200, 500]) as tf.Tensor2D;
    const v = sampleValues(new GaussianNoise({ seed: 3, mean: 0.5, std: 2 }), y);
    expect(Math.abs(mean(v) - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(Math.sqrt(variance(v)) - 2)).toBeLessThan(0.02);
    const d = sampleValues(new GaussianNoise({ seed: 3 }), y);
    expect(Math.abs(mean(d))).toBeLessThan(0.01);
    expect(Math.abs(variance(d) - 1)).toBeLessThan(0.02);
    y.dispose();
  });

  it('rejects bad config with the field name and value', () => {
    expect(() => new GaussianNoise({ seed: 1, std: 0 })).toThrow(/std must be .* got 0/);
    expect(() => new GaussianNoise({ seed: 1, mean: Number.NaN })).toThrow(/mean/);
    expect(() => new GaussianNoise({ seed: 1.5 })).toThrow(/seed must be an integer .* got 1.5/);
    expect(() => new GaussianNoise({} as { seed: number })).toThrow(/seed/);
    expect(() => noiseGeneratorFromConfig({ type: 'gaussian', seed: 1, stdev: 2 })).toThrow(
      /unknown config field "stdev"/,
    );
    expect(() => noiseGeneratorFromConfig({ type: 'nope' })).toThrow(/unknown type "nope"/);
  });
});

describe('BetaNoise', () => {
  it('defaults to the U-shaped DNR-B Beta(0.5, 0.5) and offers the DNR-BL preset', () => {
    expect(new BetaNoise({ seed: 1 }).getConfig()).toEqual({
      type: 'beta',
      seed: 1,
      a: 0.5,
      b: 0.5,
      signed: false,
    });
    const bl = new BetaNoise({ seed: 1, preset: 'dnr-bl' });
    expect([bl.a, bl.b]).toEqual([BETA_PRESETS['dnr-bl'].a, BETA_PRESETS['dnr-bl'].b]);
    expect([bl.a, bl.b]).toEqual([2, 5]);
    expect(new BetaNoise({ seed: 1, preset: 'dnr-bl', a: 3 }).a).toBe(3);
  });

  it('matches Beta moments: (0.5, 0.5) mean 0.5 var 0.125; (2, 5) mean 2/7 var 10/392', () => {
    const y = tf.zeros([200, 500]) as tf.Tensor2D;
    const u = sampleValues(new BetaNoise({ seed: 8 }), y);
    expect(Math.abs(mean(u) - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(variance(u) - 0.125)).toBeLessThan(0.002);
    const bl = sampleValues(new BetaNoise({ seed: 8, preset: 'dnr-bl' }), y);
    expect(Math.abs(mean(bl) - 2 / 7)).toBeLessThan(0.003);
    expect(Math.abs(variance(bl) - 10 / 392)).toBeLessThan(0.001);
    y.dispose();
  });

  it('signed: maps to 2ε - 1 in [-1, 1] (same draws as unsigned)', () => {
    const y = labels();
    const u = sampleValues(new BetaNoise({ seed: 9 }), y);
    const s = sampleValues(new BetaNoise({ seed: 9, signed: true }), y);
    u.forEach((v, i) => expect(s[i]).toBeCloseTo(2 * v - 1, 6));
    expect(new BetaNoise({ seed: 9, signed: true }).support().positive).toEqual([-1, 1]);
    y.dispose();
  });

  it('rejects bad shapes and presets', () => {
    expect(() => new BetaNoise({ seed: 1, a: 0 })).toThrow(/a must be .* got 0/);
    expect(() => new BetaNoise({ seed: 1, b: -2 })).toThrow(/b must be .* got -2/);
    expect(() => new BetaNoise({ seed: 1, preset: 'x' as 'dnr-b' })).toThrow(
      /preset must be one of dnr-b, dnr-bl, got "x"/,
    );
    expect(() => new BetaNoise({ seed: 1, signed: 'yes' as unknown as boolean })).toThrow(
      /signed must be a boolean/,
    );
  });
});

describe('LabelConditionalBetaNoise', () => {
  it('draws from the positive parameters where y = 1 and the negative ones where y = 0', () => {
    const rows = 100;
    const cols = 1000;
    const yv = new Float32Array(rows * cols).map((_, i) => (i % 4 === 0 ? 1 : 0));
    const y = tf.tensor2d(yv, [rows, cols]);
    const g = new LabelConditionalBetaNoise({
      seed: 4,
      positive: { a: 5, b: 2, lo: -1, hi: 1 },
      negative: { a: 2, b: 5 },
    });
    const v = sampleValues(g, y);
    const pos = v.filter((_, i) => yv[i] === 1);
    const neg = v.filter((_, i) => yv[i] === 0);
    // positive: -1 + 2·Beta(5, 2): mean -1 + 2·5/7, var 4·10/392
    expect(Math.abs(mean(pos) - (-1 + 10 / 7))).toBeLessThan(0.01);
    expect(Math.abs(variance(pos) - 40 / 392)).toBeLessThan(0.005);
    expect(Math.min(...pos)).toBeGreaterThanOrEqual(-1);
    expect(Math.abs(mean(neg) - 2 / 7)).toBeLessThan(0.005);
    expect(Math.min(...neg)).toBeGreaterThanOrEqual(0);
    expect(g.support()).toEqual({ positive: [-1, 1], negative: [0, 1] });
    y.dispose();
  });

  it('rejects bad class parameters naming the field', () => {
    expect(
      () =>
        new LabelConditionalBetaNoise({
          seed: 1,
          positive: { a: 1, b: 0 },
          negative: { a: 1, b: 1 },
        }),
    ).toThrow(/positive\.b must be .* got 0/);
    expect(
      () =>
        new LabelConditionalBetaNoise({
          seed: 1,
          positive: { a: 1, b: 1 },
          negative: { a: 1, b: 1, lo: 1, hi: 0 },
        }),
    ).toThrow(/negative\.hi/);
  });
});

describe('fitLabelConditionalBeta', () => {
  it('recovers known Beta shapes from scores by the method of moments', () => {
    const n = 40_000;
    const yv = new Float32Array(n).map((_, i) => (i % 2 === 0 ? 1 : 0));
    const x = tf.tidy(() => {
      const g = new LabelConditionalBetaNoise({
        seed: 6,
        positive: { a: 4, b: 2 },
        negative: { a: 1.5, b: 6 },
      });
      return g.sample(tf.tensor2d(yv, [1, n]), { training: true });
    });
    const scores = x.dataSync();
    const fit = fitLabelConditionalBeta(scores, yv);
    expect(fit.range).toEqual([0, 1]);
    expect(fit.positive.a).toBeCloseTo(4, 0);
    expect(fit.positive.b).toBeCloseTo(2, 0);
    expect(fit.negative.a).toBeCloseTo(1.5, 0);
    expect(fit.negative.b).toBeCloseTo(6, 0);
    expect(fit.positive.lo).toBe(0);
    expect(fit.positive.hi).toBe(1);
    expect(fit.stats.positive.count).toBe(n / 2);
    expect(fit.stats.positive.clamped).toBe(false);
    x.dispose();
  });

  it('with alpha, inverts Eq. 4 so that x̂ reproduces the per-class score distribution', () => {
    // scores: positives ~ Beta(3, 2), negatives ~ Beta(2, 4) on [0, 1] (overlapping classes)
    const n = 40_000;
    const yv = new Float32Array(n).map((_, i) => (i % 3 === 0 ? 1 : 0));
    const real = new LabelConditionalBetaNoise({
      seed: 12,
      positive: { a: 3, b: 2 },
      negative: { a: 2, b: 4 },
    });
    const y = tf.tensor2d(yv, [1, n]);
    const xs = sampleValues(real, y);
    const alpha = 0.4;
    const fit = fitLabelConditionalBeta(xs, yv, { alpha });
    // support of ε for y = 1 is the preimage of [0, 1]: [(0 - 0.6)/0.4, (1 - 0.6)/0.4] = [-1.5, 1]
    expect(fit.positive.lo).toBeCloseTo(-1.5, 10);
    expect(fit.positive.hi).toBeCloseTo(1, 10);
    expect(fit.negative.lo).toBe(0);
    expect(fit.negative.hi).toBeCloseTo(2.5, 10);
    const g = new LabelConditionalBetaNoise({
      seed: 13,
      positive: fit.positive,
      negative: fit.negative,
    });
    const eps = g.sample(y, { training: true });
    const xhat = synthesizeScores(y, eps, { alpha });
    const xh = xhat.dataSync();
    const pick = (v: ArrayLike<number>, cls: number): number[] =>
      Array.from(v).filter((_, i) => yv[i] === cls);
    expect(Math.abs(mean(pick(xh, 1)) - 0.6)).toBeLessThan(0.01);
    expect(Math.abs(mean(pick(xh, 0)) - 1 / 3)).toBeLessThan(0.01);
    expect(Math.abs(variance(pick(xh, 1)) - variance(pick(xs, 1)))).toBeLessThan(0.003);
    expect(Math.min(...pick(xh, 1))).toBeLessThan(0.4); // positives below the bounded-noise floor 1 - α
    tf.dispose([y, eps, xhat]);
  });

  it('clamps infeasible moments and reports it', () => {
    // negatives all equal -> zero variance; positives only at 0 and 1 -> variance = m(1-m)
    const fit = fitLabelConditionalBeta([0.2, 0.2, 0.2, 0, 1, 0, 1], [0, 0, 0, 1, 1, 1, 1], {
      maxShape: 500,
    });
    expect(fit.stats.negative.clamped).toBe(true);
    expect(fit.negative.a).toBe(500);
    expect(fit.stats.positive.clamped).toBe(true);
    expect(fit.positive.a).toBeGreaterThanOrEqual(0.05);
    expect(fit.positive.b).toBeGreaterThanOrEqual(0.05);
  });

  it('validates its inputs', () => {
    expect(() => fitLabelConditionalBeta([0.1, 0.2], [1])).toThrow(/same length, got 2 and 1/);
    expect(() => fitLabelConditionalBeta([0.1, 0.2, 0.3], [1, 0, 0])).toThrow(
      /at least 2 scores with label 1, got 1/,
    );
    expect(() => fitLabelConditionalBeta([0.1, Number.NaN], [1, 0])).toThrow(
      /scores\[1\] is not finite/,
    );
    expect(() => fitLabelConditionalBeta([0.1, 0.2, 0.3, 0.4], [1, 1, 0, 0], { alpha: 1 })).toThrow(
      /alpha must be .* got 1/,
    );
    expect(() =>
      fitLabelConditionalBeta([0.1, 0.2, 0.3, 0.4], [1, 1, 0, 0], { range: [1, 0] }),
    ).toThrow(/range\[1\]/);
  });
});

describe('registry', () => {
  it('lists the built-in types', () => {
    expect(registeredNoiseGenerators()).toEqual(
      expect.arrayContaining(['beta', 'gaussian', 'label-beta', 'learned']),
    );
  });
});
