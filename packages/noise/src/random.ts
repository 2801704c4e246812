/**
 * Small seeded pseudo-random number generator and the samplers built on it (normal, gamma, beta).
 *
 * Sampling happens in JavaScript, so a given seed gives bit-identical noise on every tfjs backend
 * (cpu, wasm, webgl, tensorflow). The generator is Mulberry32 with SplitMix-style seeding: 32 bits of
 * state, fast, and good enough for augmentation noise (it is not a cryptographic generator).
 *
 * Streams: `createPrng(seed, stream)` derives an independent generator for every `(seed, stream)`
 * pair. Noise generators use the call index as the stream, so repeated calls draw different noise,
 * a run with the same seed repeats exactly, and a checkpoint can resume by storing the call index.
 */

/** A seeded uniform / normal / gamma / beta source. */
export interface Prng {
  /** Uniform float in the open interval (0, 1) (never exactly 0 or 1). */
  uniform(): number;
  /** Standard normal N(0, 1) (Box-Muller, both outputs used). */
  normal(): number;
  /** log of a Gamma(shape, 1) draw; `shape > 0` (Marsaglia-Tsang, boosted by U^(1/shape) below 1). */
  logGamma(shape: number): number;
  /** Gamma(shape, 1) draw (`shape > 0`). May underflow to 0 for very small shapes. */
  gamma(shape: number): number;
  /** Beta(a, b) draw in [0, 1] via the Gamma ratio, computed in log space (`a, b > 0`). */
  beta(a: number, b: number): number;
}

/** 32-bit finalizer (murmur3 fmix32). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Validates a seed: an integer in [0, 2^32). Seeds never reach tfjs (sampling is done in JS), so
 * 0 is a valid seed here (unlike tfjs, where seed 0 means "unseeded").
 */
export function checkSeed(seed: unknown, owner: string): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(
      `${owner}: seed must be an integer in [0, 4294967295], got ${JSON.stringify(seed)}`,
    );
  }
  return seed;
}

/**
 * Creates a seeded generator for stream `stream` of `seed` (both integers in [0, 2^32)).
 * Different `(seed, stream)` pairs give independent-looking sequences.
 */
export function createPrng(seed: number, stream = 0): Prng {
  let state = mix32(mix32((seed >>> 0) ^ 0x9e3779b9) ^ mix32(((stream >>> 0) + 0x632be5ab) >>> 0));
  let spare: number | undefined;

  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };

  const normal = (): number => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };

  const logGamma = (shape: number): number => {
    if (shape < 1) {
      // Gamma(a) = Gamma(a + 1) * U^(1/a)  (Marsaglia & Tsang 2000, section 6); in log space so
      // that tiny shapes do not underflow to 0.
      return logGamma(shape + 1) + Math.log(uniform()) / shape;
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = uniform();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) {
        return Math.log(d) + Math.log(v);
      }
    }
  };

  return {
    uniform,
    normal,
    logGamma,
    gamma: (shape) => Math.exp(logGamma(shape)),
    beta: (a, b) => {
      // X / (X + Y) = 1 / (1 + exp(log Y - log X)), stable for any magnitudes.
      const la = logGamma(a);
      const lb = logGamma(b);
      return 1 / (1 + Math.exp(lb - la));
    },
  };
}
