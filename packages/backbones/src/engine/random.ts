/**
 * Small, fast, seeded pseudo-random numbers for weight initialisation and dropout masks.
 * Generated in JavaScript so that every backend (cpu, wasm, webgl, node) sees the same numbers
 * for the same seed. tfjs treats seed 0 as "no seed"; these helpers never produce 0.
 */

/** Mixes a 32-bit integer (murmur3 finaliser). */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** FNV-1a hash of a string, as an unsigned 32-bit integer. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Derives a non-zero 32-bit seed from a base seed and any number of parts (numbers or strings),
 * so that sub-streams (one per weight, one per dropout call) are independent and reproducible.
 */
export function deriveSeed(base: number, ...parts: (number | string)[]): number {
  if (!Number.isFinite(base)) throw new RangeError(`seed must be a finite number, got ${base}`);
  let h = mix32((base >>> 0) ^ 0x9e3779b9);
  for (const p of parts) {
    const v = typeof p === 'string' ? hashString(p) : p >>> 0;
    h = mix32(h ^ mix32(v + 0x632be5ab));
  }
  return h === 0 ? 0x2545f491 : h;
}

/** A Mulberry32 generator: returns uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A counter of seeds: each `next()` returns a fresh non-zero seed derived from the base seed and
 * the call count, so a run that makes the same calls in the same order is reproducible.
 */
export class SeedSequence {
  private count = 0;
  constructor(readonly baseSeed: number) {
    if (!Number.isFinite(baseSeed)) {
      throw new RangeError(`seed must be a finite number, got ${baseSeed}`);
    }
  }
  /** The next seed (non-zero, 32-bit). */
  next(): number {
    this.count += 1;
    return deriveSeed(this.baseSeed, 'seq', this.count);
  }
  /** How many seeds were drawn so far. */
  get calls(): number {
    return this.count;
  }
  /** Restarts the sequence (the next seed equals the first one drawn after construction). */
  reset(): void {
    this.count = 0;
  }
}
