import { describe, expect, it } from 'vitest';
import { createPrng } from '../src/index.js';
import { ksStatistic, mean, variance } from './helpers.js';

const N = 100_000;

function draw(n: number, f: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f();
  return out;
}

/** Regularized incomplete beta for Beta(2, 5): sum_{j=2}^{6} C(6, j) x^j (1-x)^(6-j). */
function beta25Cdf(x: number): number {
  const c = [1, 6, 15, 20, 15, 6, 1];
  let s = 0;
  for (let j = 2; j <= 6; j++) s += (c[j] as number) * x ** j * (1 - x) ** (6 - j);
  return s;
}

/** Arcsine law = Beta(0.5, 0.5): F(x) = (2/π) asin(√x). */
const arcsineCdf = (x: number): number =>
  (2 / Math.PI) * Math.asin(Math.sqrt(Math.min(1, Math.max(0, x))));

describe('createPrng', () => {
  it('is reproducible per (seed, stream) and differs across seeds and streams', () => {
    const a = draw(8, createPrng(7, 0).uniform);
    expect(draw(8, createPrng(7, 0).uniform)).toEqual(a);
    expect(draw(8, createPrng(8, 0).uniform)).not.toEqual(a);
    expect(draw(8, createPrng(7, 1).uniform)).not.toEqual(a);
    // seed 0 is a real seed here (sampling never goes through tfjs)
    expect(draw(8, createPrng(0, 0).uniform)).toEqual(draw(8, createPrng(0, 0).uniform));
  });

  it('draws uniforms in the open interval (0, 1) with mean 1/2 and variance 1/12', () => {
    const u = draw(N, createPrng(1).uniform);
    expect(Math.min(...u)).toBeGreaterThan(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(mean(u)).toBeCloseTo(0.5, 2);
    expect(variance(u)).toBeCloseTo(1 / 12, 3);
    expect(ksStatistic(u, (x) => x)).toBeLessThan(1.95 / Math.sqrt(N));
  });

  it('draws standard normals', () => {
    const z = draw(N, createPrng(2).normal);
    expect(Math.abs(mean(z))).toBeLessThan(0.01);
    expect(Math.abs(Math.sqrt(variance(z)) - 1)).toBeLessThan(0.01);
    const within1 = z.filter((v) => Math.abs(v) < 1).length / N;
    expect(within1).toBeCloseTo(0.6827, 2);
  });

  it.each([0.3, 1, 4.5])('draws Gamma(%f) with mean = var = shape', (shape) => {
    const prng = createPrng(3);
    const g = draw(N, () => prng.gamma(shape));
    expect(Math.abs(mean(g) - shape)).toBeLessThan(0.02 * Math.max(1, shape));
    expect(Math.abs(variance(g) - shape) / shape).toBeLessThan(0.05);
  });

  it.each([
    // a, b, mean a/(a+b), variance ab/((a+b)^2 (a+b+1))
    [0.5, 0.5, 0.5, 0.125],
    [2, 5, 2 / 7, 10 / 392],
    [0.3, 0.7, 0.3, 0.105],
    [3, 0.4, 3 / 3.4, 1.2 / (3.4 * 3.4 * 4.4)],
  ])('draws Beta(%f, %f) with mean %f and variance %f', (a, b, m, v) => {
    const prng = createPrng(4);
    const x = draw(N, () => prng.beta(a, b));
    expect(Math.min(...x)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...x)).toBeLessThanOrEqual(1);
    expect(Math.abs(mean(x) - m)).toBeLessThan(0.005);
    expect(Math.abs(variance(x) - v)).toBeLessThan(0.003);
  });

  it('matches the Beta(0.5, 0.5) and Beta(2, 5) CDFs (Kolmogorov-Smirnov)', () => {
    const crit = 1.95 / Math.sqrt(N); // alpha = 0.001
    const p = createPrng(5);
    expect(
      ksStatistic(
        draw(N, () => p.beta(0.5, 0.5)),
        arcsineCdf,
      ),
    ).toBeLessThan(crit);
    expect(
      ksStatistic(
        draw(N, () => p.beta(2, 5)),
        beta25Cdf,
      ),
    ).toBeLessThan(crit);
  });

  it('gives the U shape mass near 0 and 1 for Beta(0.5, 0.5)', () => {
    const p = createPrng(6);
    const x = draw(N, () => p.beta(0.5, 0.5));
    const frac = (lo: number, hi: number): number => x.filter((v) => v >= lo && v < hi).length / N;
    // F(0.1) = (2/π) asin(√0.1) = 0.2048; F(0.55) - F(0.45) = 0.0638
    expect(frac(0, 0.1)).toBeCloseTo(0.2048, 2);
    expect(frac(0.9, 1.0001)).toBeCloseTo(0.2048, 2);
    expect(frac(0.45, 0.55)).toBeCloseTo(0.0638, 2);
  });

  it('stays finite for tiny shapes (log-space Gamma ratio)', () => {
    const p = createPrng(9);
    const x = draw(20_000, () => p.beta(0.02, 0.02));
    expect(x.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
    expect(Math.abs(mean(x) - 0.5)).toBeLessThan(0.02);
  });
});
