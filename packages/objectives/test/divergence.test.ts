// The tfjs union registers the gradients and the cpu backend (the package itself uses tfjs-core).
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SCORE_DIVERGENCE_KINDS,
  classMomentsDivergence,
  histKL,
  mmd,
  momentsDivergence,
  scoreDivergence,
  softmaxKL,
} from '../src/index.ts';
import type { ScoreDivergenceKind } from '../src/index.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

type Div = (xHat: tf.Tensor2D, x: tf.Tensor2D) => tf.Scalar;

/** Evaluates `f(x̂, x)` on plain arrays, disposing everything. */
function div(f: Div, xHat: number[][], x: number[][]): number {
  const t = tf.tidy(() => f(tf.tensor2d(xHat), tf.tensor2d(x)));
  const v = t.dataSync()[0] as number;
  t.dispose();
  return v;
}

/** Gradients of `f` w.r.t. x̂ and w.r.t. x, as arrays. */
function grads(f: Div, xHat: number[][], x: number[][]): { dHat: number[]; dX: number[] } {
  const [gh, gx] = tf.tidy(() =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor2D, b as tf.Tensor2D))([
      tf.tensor2d(xHat),
      tf.tensor2d(x),
    ]),
  ) as [tf.Tensor, tf.Tensor];
  const out = { dHat: Array.from(gh.dataSync()), dX: Array.from(gx.dataSync()) };
  tf.dispose([gh, gx]);
  return out;
}

/** Checks gradients w.r.t. x̂ are finite and non-zero, x gets none, and a descent step lowers f. */
function expectUsefulGradient(f: Div, xHat: number[][], x: number[][]): void {
  const { dHat, dX } = grads(f, xHat, x);
  expect(dHat.every(Number.isFinite)).toBe(true);
  expect(dHat.some((g) => Math.abs(g) > 1e-6)).toBe(true);
  expect(dX.every((g) => g === 0)).toBe(true); // x is a constant (stop gradient)
  const cols = xHat[0]?.length ?? 0;
  const lr = 1e-3 / Math.max(...dHat.map(Math.abs));
  const stepped = xHat.map((row, b) => row.map((v, i) => v - lr * (dHat[b * cols + i] as number)));
  expect(div(f, stepped, x)).toBeLessThan(div(f, xHat, x));
}

const X = [
  [0.1, 0.5, 0.9],
  [0.3, 0.2, 0.7],
];
/** Labels of the lists of X (for the class-conditional estimator). */
const LABELS = tf.tensor2d([
  [1, 0, 0],
  [0, 1, 0],
]);
const X_HAT = [
  [0.6, 0.1, 0.4],
  [0.95, 0.05, 0.5],
];

describe('softmaxKL', () => {
  it('is 0 for identical inputs and for a per-list constant shift', () => {
    expect(div(softmaxKL, X, X)).toBeCloseTo(0, 7);
    expect(
      div(
        softmaxKL,
        X.map((r, b) => r.map((v) => v + 3 * b - 1)),
        X,
      ),
    ).toBeCloseTo(0, 6);
  });

  it('matches a 1x2 hand case', () => {
    // x = [0, ln 3] → p = [1/4, 3/4];  x̂ = [0, 0] → q = [1/2, 1/2]
    // KL(p‖q) = 1/4·ln(1/2) + 3/4·ln(3/2) = −0.1732868 + 0.3040988 = 0.1308120
    expect(div(softmaxKL, [[0, 0]], [[0, Math.log(3)]])).toBeCloseTo(0.130812, 6);
    // T = 2: p = softmax([0, ln3/2]) = [1/(1+√3), √3/(1+√3)] = [0.3660254, 0.6339746]
    // KL = 0.3660254·ln(0.7320508) + 0.6339746·ln(1.2679492) = −0.1141713 + 0.1505121 = 0.0363408
    const t2: Div = (a, b) => softmaxKL(a, b, { temperature: 2 });
    expect(div(t2, [[0, 0]], [[0, Math.log(3)]])).toBeCloseTo(0.0363408, 6);
  });

  it('averages over lists: two lists, one identical (0) and the 1x2 case (0.1308120) → 0.0654060', () => {
    expect(
      div(
        softmaxKL,
        [
          [0, 0],
          [1, 2],
        ],
        [
          [0, Math.log(3)],
          [1, 2],
        ],
      ),
    ).toBeCloseTo(0.065406, 6);
  });

  it('gradient w.r.t. x̂ is (q − p)/B = [0.25, −0.25] in the 1x2 case, and none w.r.t. x', () => {
    const { dHat, dX } = grads(softmaxKL, [[0, 0]], [[0, Math.log(3)]]);
    expect(dHat[0]).toBeCloseTo(0.25, 6);
    expect(dHat[1]).toBeCloseTo(-0.25, 6);
    expect(dX).toEqual([0, 0]);
    expectUsefulGradient(softmaxKL, X_HAT, X);
  });
});

describe('histKL', () => {
  it('is 0 for identical sets and > 0 otherwise', () => {
    expect(div(histKL, X, X)).toBeCloseTo(0, 7);
    expect(div(histKL, X_HAT, X)).toBeGreaterThan(1e-3);
  });

  it('matches a 2-bin hand case', () => {
    // bins = 2 on [0,1] → centers 0.25, 0.75, bandwidth h = bin width 0.5, 2h² = 0.5.
    // score 0.25: logits [0, −0.25/0.5] = [0, −0.5] → softmax [0.6224593, 0.3775407] = p (real x = 0.25)
    // score 0.75: mirrored → q = [0.3775407, 0.6224593] (synthetic x̂ = 0.75)
    // KL(p‖q) = 0.6224593·ln(p1/q1) + 0.3775407·ln(q1/p1), ln(p1/q1) = 0.5
    //        = (0.6224593 − 0.3775407)·0.5 = 0.1224593
    const f: Div = (a, b) => histKL(a, b, { bins: 2, epsilon: 0 });
    expect(div(f, [[0.75]], [[0.25]])).toBeCloseTo(0.1224593, 6);
    // the default smoothing ε = 1e-6 moves it by O(1e-6)
    const g: Div = (a, b) => histKL(a, b, { bins: 2 });
    expect(div(g, [[0.75]], [[0.25]])).toBeCloseTo(0.1224593, 5);
  });

  it('is invariant to permutations of the elements (within and across lists)', () => {
    const base = div(histKL, X_HAT, X);
    const permutedHat = [
      [0.05, 0.5, 0.95],
      [0.4, 0.6, 0.1],
    ];
    const permutedX = [
      [0.7, 0.9, 0.1],
      [0.2, 0.5, 0.3],
    ];
    expect(div(histKL, permutedHat, permutedX)).toBeCloseTo(base, 6);
  });

  it('has a useful gradient w.r.t. x̂ and none w.r.t. x', () => {
    expectUsefulGradient(histKL, X_HAT, X);
  });
});

describe('momentsDivergence', () => {
  it('matches a tiny hand case', () => {
    // x̂ = [1, 5]: mean 3, population std 2;  x = [0, 2]: mean 1, std 1
    // (3 − 1)² + (2 − 1)² = 4 + 1 = 5   (ε = 1e-8 inside the sqrt changes it by ~1e-8)
    expect(div(momentsDivergence, [[1, 5]], [[0, 2]])).toBeCloseTo(5, 6);
    expect(div(momentsDivergence, X, X)).toBeCloseTo(0, 7);
  });

  it('gradient matches the hand derivation [1, 3]', () => {
    // d/dx̂_i (m̂ − m)² = 2(m̂ − m)/N = 2·2/2 = 2
    // d/dx̂_i (ŝ − s)² = 2(ŝ − s)·(x̂_i − m̂)/(N·ŝ) = 2·1·(∓2)/(2·2) = ∓1
    // → [2 − 1, 2 + 1] = [1, 3]
    const { dHat, dX } = grads(momentsDivergence, [[1, 5]], [[0, 2]]);
    expect(dHat[0]).toBeCloseTo(1, 5);
    expect(dHat[1]).toBeCloseTo(3, 5);
    expect(dX).toEqual([0, 0]);
    expectUsefulGradient(momentsDivergence, X_HAT, X);
  });

  it('keeps the gradient finite for a constant x̂ (zero variance)', () => {
    const { dHat } = grads(momentsDivergence, [[0.5, 0.5]], [[0, 1]]);
    expect(dHat.every(Number.isFinite)).toBe(true);
  });
});

describe('classMomentsDivergence', () => {
  const c = (xHat: number[][], x: number[][], labels: number[][]): number =>
    div((a, b) => classMomentsDivergence(a, b, { labels: tf.tensor2d(labels) }), xHat, x);

  it('matches a tiny hand case: the moments of the positives plus those of the negatives', () => {
    // positives: x̂ [1, 5] (mean 3, std 2) vs x [0, 2] (mean 1, std 1) -> 4 + 1 = 5
    // negatives: x̂ [0, 2] (mean 1, std 1) vs x [1, 1] (mean 1, std √ε = 1e-4) -> 0 + (1 − 1e-4)²
    expect(c([[1, 5, 0, 2]], [[0, 2, 1, 1]], [[1, 1, 0, 0]])).toBeCloseTo(5 + (1 - 1e-4) ** 2, 5);
    // a class absent from the batch contributes nothing
    expect(c([[1, 5]], [[0, 2]], [[1, 1]])).toBeCloseTo(5, 6);
    expect(
      c(X, X, [
        [1, 0, 0],
        [0, 0, 1],
      ]),
    ).toBeCloseTo(0, 7);
  });

  it('sees inverted scores, which the label-blind estimators cannot', () => {
    // x̂ swaps the scores of the positive and the negative: the same multiset as x
    const x = [[0.8, 0.2]];
    const inverted = [[0.2, 0.8]];
    expect(div(momentsDivergence, inverted, x)).toBeCloseTo(0, 7);
    // (0.2 − 0.8)² + (0.8 − 0.2)², both stds √ε
    expect(c(inverted, x, [[1, 0]])).toBeCloseTo(0.72, 6);
  });

  it('has a useful gradient and needs the labels', () => {
    const labels = tf.tensor2d([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expectUsefulGradient((a, b) => classMomentsDivergence(a, b, { labels }), X_HAT, X);
    const a = tf.tensor2d(X);
    expect(() => classMomentsDivergence(a, a)).toThrow(
      /classMoments: options.labels \[B,L\] is required/,
    );
    expect(() => classMomentsDivergence(a, a, { labels: tf.tensor2d([[1, 0]]) })).toThrow(
      /classMoments: labels shape \[1,2\] must equal x shape \[2,3\]/,
    );
    tf.dispose([labels, a]);
  });
});

describe('mmd', () => {
  it('is 0 for identical sets (biased estimator), also when permuted', () => {
    expect(div(mmd, X, X)).toBeCloseTo(0, 6);
    expect(
      div(
        mmd,
        [
          [0.9, 0.7, 0.5],
          [0.1, 0.2, 0.3],
        ],
        X,
      ),
    ).toBeCloseTo(0, 6);
  });

  it('matches a 1x1 hand case', () => {
    // a = {0.1}, b = {0}, σ = 0.1: k(a,a) = k(b,b) = 1, k(a,b) = exp(−0.01/0.02) = e^−0.5 = 0.6065307
    // MMD² = 1 + 1 − 2·0.6065307 = 0.7869387
    expect(div(mmd, [[0.1]], [[0]])).toBeCloseTo(0.7869387, 6);
    // σ = 0.2: k(a,b) = exp(−0.01/0.08) = e^−0.125 = 0.8824969 → 2 − 1.7649938 = 0.2350062
    const wide: Div = (a, b) => mmd(a, b, { bandwidth: 0.2 });
    expect(div(wide, [[0.1]], [[0]])).toBeCloseTo(0.2350062, 6);
  });

  it('grows with a shift of the synthetic scores', () => {
    const shifted = (s: number): number[][] => X.map((r) => r.map((v) => v + s));
    const values = [0.02, 0.05, 0.1, 0.2].map((s) => div(mmd, shifted(s), X));
    for (let i = 1; i < values.length; i++) {
      expect(values[i]).toBeGreaterThan(values[i - 1] as number);
    }
    expect(values[0]).toBeGreaterThan(0);
  });

  it('has a useful gradient w.r.t. x̂ and none w.r.t. x', () => {
    expectUsefulGradient(mmd, X_HAT, X);
  });

  it('subsamples at most maxSamples elements with a seeded RNG', () => {
    // 2x50 = 100 elements > maxSamples 10
    const xHat = Array.from({ length: 2 }, (_, b) =>
      Array.from({ length: 50 }, (_, i) => ((i * 7 + b * 13) % 50) / 50),
    );
    const x = Array.from({ length: 2 }, (_, b) =>
      Array.from({ length: 50 }, (_, i) => ((i * 11 + b) % 50) / 60),
    );
    const sub =
      (seed: number, stream: number): Div =>
      (a, b) =>
        mmd(a, b, { maxSamples: 10, seed, stream });
    expect(() => div((a, b) => mmd(a, b, { maxSamples: 10 }), xHat, x)).toThrow(
      /seed must be an integer in \[1, 4294967295\] when B·L \(100\) > maxSamples \(10\)/,
    );
    const v1 = div(sub(7, 0), xHat, x);
    expect(div(sub(7, 0), xHat, x)).toBe(v1); // reproducible
    expect(div(sub(7, 1), xHat, x)).not.toBe(v1); // another stream, another subsample
    // only the (at most 10) sampled elements of x̂ receive gradient
    const { dHat, dX } = grads(sub(7, 0), xHat, x);
    const nonZero = dHat.filter((g) => g !== 0).length;
    expect(nonZero).toBeGreaterThan(0);
    expect(nonZero).toBeLessThanOrEqual(10);
    expect(dX.every((g) => g === 0)).toBe(true);
    // maxSamples >= B·L: no subsampling, the seed is irrelevant
    expect(div((a, b) => mmd(a, b, { maxSamples: 100, seed: 3 }), xHat, x)).toBeCloseTo(
      div(mmd, xHat, x),
      6,
    );
  });
});

describe('scoreDivergence', () => {
  it('dispatches to each estimator', () => {
    const direct: Record<ScoreDivergenceKind, Div> = {
      softmaxKL,
      histKL: (a, b) => histKL(a, b, { bins: 5 }),
      moments: momentsDivergence,
      mmd: (a, b) => mmd(a, b, { bandwidth: 0.3 }),
      classMoments: (a, b) => classMomentsDivergence(a, b, { labels: LABELS }),
    };
    const opts = {
      softmaxKL: {},
      histKL: { bins: 5 },
      moments: {},
      mmd: { bandwidth: 0.3 },
      classMoments: { labels: LABELS },
    };
    expect(SCORE_DIVERGENCE_KINDS[0]).toBe('softmaxKL');
    for (const kind of SCORE_DIVERGENCE_KINDS) {
      const viaDispatch = div((a, b) => scoreDivergence(kind, a, b, opts[kind]), X_HAT, X);
      expect(viaDispatch).toBeCloseTo(div(direct[kind], X_HAT, X), 7);
      expect(viaDispatch).toBeGreaterThan(0);
    }
  });

  it('validates shapes (naming both) and options', () => {
    const a = tf.tensor2d([[0.1, 0.2]]);
    const b = tf.tensor2d([[0.1], [0.2]]);
    const v = tf.tensor1d([0.1, 0.2]);
    for (const kind of SCORE_DIVERGENCE_KINDS) {
      expect(() => scoreDivergence(kind, a, b)).toThrow(
        /xHat shape \[1,2\] must equal x shape \[2,1\]/,
      );
    }
    expect(() => softmaxKL(v as unknown as tf.Tensor2D, a)).toThrow(
      /softmaxKL: xHat must be a rank-2 tensor \[B,L\], got shape \[2\]/,
    );
    expect(() => softmaxKL(a, a, { temperature: 0 })).toThrow(
      /temperature must be a finite number > 0, got 0/,
    );
    expect(() => histKL(a, a, { bins: 1.5 })).toThrow(/bins must be an integer >= 1, got 1.5/);
    expect(() => histKL(a, a, { range: [1, 0] })).toThrow(
      /range must be finite \[lo, hi\] with lo < hi, got \[1, 0\]/,
    );
    expect(() => histKL(a, a, { bandwidth: -1 })).toThrow(/bandwidth/);
    expect(() => momentsDivergence(a, a, { epsilon: -1 })).toThrow(/epsilon/);
    expect(() => mmd(a, a, { maxSamples: 0 })).toThrow(/maxSamples must be an integer >= 1/);
    expect(() => mmd(a, a, { bandwidth: 0 })).toThrow(/bandwidth must be a finite number > 0/);
    expect(() => scoreDivergence('kl' as ScoreDivergenceKind, a, a)).toThrow(
      /kind must be one of softmaxKL, histKL, moments, mmd, classMoments, got "kl"/,
    );
    tf.dispose([a, b, v]);
  });

  it('leaks no tensors: one returned scalar per call, nothing left by gradients', () => {
    const a = tf.tensor2d(X_HAT);
    const b = tf.tensor2d(X);
    const before = tf.memory().numTensors;
    const withLabels = { labels: LABELS };
    const outs = SCORE_DIVERGENCE_KINDS.map((kind) => scoreDivergence(kind, a, b, withLabels));
    outs.push(mmd(a, b, { maxSamples: 4, seed: 1 }));
    expect(tf.memory().numTensors - before).toBe(outs.length);
    tf.dispose(outs);
    tf.tidy(() => {
      for (const kind of SCORE_DIVERGENCE_KINDS)
        tf.grad((t: tf.Tensor) => scoreDivergence(kind, t as tf.Tensor2D, b, withLabels))(a);
      tf.grad((t: tf.Tensor) => mmd(t as tf.Tensor2D, b, { maxSamples: 4, seed: 1 }))(a);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });
});
