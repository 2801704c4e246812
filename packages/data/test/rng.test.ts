import { describe, expect, it } from 'vitest';
import { createRng, shuffleInPlace } from '../src/index';

describe('createRng', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
  });

  it('draws uniform floats in [0,1) and integers in [0,n) with the right mean', () => {
    const r = createRng(7);
    let sum = 0;
    const counts = [0, 0, 0];
    for (let i = 0; i < 30000; i++) {
      const u = r.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      sum += u;
      counts[r.int(3)]! += 1;
    }
    expect(sum / 30000).toBeCloseTo(0.5, 2);
    for (const c of counts) expect(c / 30000).toBeCloseTo(1 / 3, 1);
  });

  it('draws standard normals', () => {
    const r = createRng('normal');
    let s = 0;
    let s2 = 0;
    const n = 40000;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(s2 / n).toBeCloseTo(1, 1);
  });

  it('forks independent, reproducible streams', () => {
    const f1 = createRng(1).fork('negatives').next();
    const f2 = createRng(1).fork('negatives').next();
    const f3 = createRng(1).fork('shuffle').next();
    expect(f1).toBe(f2);
    expect(f1).not.toBe(f3);
  });

  it('rejects non-finite seeds', () => {
    expect(() => createRng(Number.NaN)).toThrow(/finite/);
  });
});

describe('shuffleInPlace', () => {
  it('permutes without losing elements, reproducibly', () => {
    const a = shuffleInPlace(
      Int32Array.from({ length: 10 }, (_, i) => i),
      createRng(3),
    );
    const b = shuffleInPlace(
      Int32Array.from({ length: 10 }, (_, i) => i),
      createRng(3),
    );
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(a)).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
