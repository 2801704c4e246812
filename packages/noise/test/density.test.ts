import { describe, expect, it } from 'vitest';
import { createPrng, histogramDensity, observedNoise } from '../src/index.js';

const integral = (h: ReturnType<typeof histogramDensity>): number =>
  h.densities.reduce((s, d) => s + d * h.binWidth, 0);

describe('histogramDensity', () => {
  it('computes hand-checked densities that integrate to 1', () => {
    // bins of width 0.25 on [0, 1]: counts 2, 1, 0, 1 (1.0 falls in the closed last bin)
    const h = histogramDensity([0.1, 0.2, 0.3, 1.0], { bins: 4, range: [0, 1] });
    expect(Array.from(h.centers)).toEqual([0.125, 0.375, 0.625, 0.875]);
    expect(Array.from(h.densities)).toEqual([2, 1, 0, 1]); // count / (4 · 0.25)
    expect(h.binWidth).toBe(0.25);
    expect(integral(h)).toBeCloseTo(1, 12);
  });

  it('leaves out values outside the range and non-finite values', () => {
    const h = histogramDensity([-1, 0.5, 2, Number.NaN, 0.6], { bins: 2, range: [0, 1] });
    expect(h.inRange).toBe(2);
    expect(h.outside).toBe(3);
    expect(integral(h)).toBeCloseTo(1, 12);
  });

  it('defaults to the data range and 50 bins, and integrates to 1 for normal samples', () => {
    const p = createPrng(1);
    const v = Float32Array.from({ length: 20_000 }, () => p.normal());
    const h = histogramDensity(v);
    expect(h.centers.length).toBe(50);
    expect(h.inRange).toBe(20_000);
    expect(integral(h)).toBeCloseTo(1, 5);
    // density at the bin nearest 0 is close to 1/√(2π) = 0.399
    let k = 0;
    h.centers.forEach((c, i) => {
      if (Math.abs(c) < Math.abs(h.centers[k] as number)) k = i;
    });
    expect(h.densities[k]).toBeGreaterThan(0.35);
    expect(h.densities[k]).toBeLessThan(0.43);
  });

  it('handles empty and constant inputs, and validates options', () => {
    expect(integral(histogramDensity([], { bins: 3 }))).toBe(0);
    expect(integral(histogramDensity([2, 2, 2], { bins: 3 }))).toBeCloseTo(1, 12);
    expect(() => histogramDensity([1], { bins: 0 })).toThrow(/bins must be .* got 0/);
    expect(() => histogramDensity([1], { range: [1, 1] })).toThrow(/range\[1\]/);
  });
});

describe('observedNoise', () => {
  it('inverts Eq. 4: ε* = (x - (1 - α)·y) / α, or the sqrt form', () => {
    // α = 0.4: (0.9 - 0.6) / 0.4 = 0.75; 0.2 / 0.4 = 0.5; (0.5 - 0.6) / 0.4 = -0.25
    const e = observedNoise([0.9, 0.2, 0.5], [1, 0, 1], 0.4);
    expect(e).toBeInstanceOf(Float32Array);
    [0.75, 0.5, -0.25].forEach((v, i) => expect(e[i]).toBeCloseTo(v, 6));
    // α = 0.36 sqrt: (0.9 - 0.8) / 0.6 = 1/6; 0.3 / 0.6 = 0.5
    const s = observedNoise([0.9, 0.3], [1, 0], 0.36, 'sqrt');
    expect(s[0]).toBeCloseTo(1 / 6, 6);
    expect(s[1]).toBeCloseTo(0.5, 6);
  });

  it('validates its inputs', () => {
    expect(() => observedNoise([0.1], [1, 0], 0.4)).toThrow(/same length, got 1 and 2/);
    expect(() => observedNoise([0.1], [1], 0)).toThrow(/observedNoise: alpha .* got 0/);
  });
});
