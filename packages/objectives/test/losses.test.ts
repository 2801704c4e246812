// The tfjs union registers the gradients and the cpu backend (the package itself uses tfjs-core).
import '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { stopGradient } from '@dnr/noise';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { adversarialLoss, bceWithLogits, denoisingLoss, scoreDivergence } from '../src/index.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Runs `fn` inside tidy and returns the scalar it produced as a number. */
function value(fn: () => tf.Scalar): number {
  const t = tf.tidy(fn);
  const v = t.dataSync()[0] as number;
  t.dispose();
  return v;
}

const softplus = (v: number): number => Math.log1p(Math.exp(v));

describe('bceWithLogits', () => {
  // z = [2, -1], y = [1, 0]:
  //   ℓ1 = max(2,0) − 2·1 + log(1 + e^−2) = log(1.1353353) = 0.1269280
  //   ℓ2 = max(−1,0) − (−1)·0 + log(1 + e^−1) = log(1.3678794) = 0.3132617
  //   mean = (0.1269280 + 0.3132617) / 2 = 0.2200948
  it('matches the hand-computed mean on a 1x2 example', () => {
    const v = value(() => bceWithLogits(tf.tensor2d([[2, -1]]), tf.tensor2d([[1, 0]])));
    expect(v).toBeCloseTo(0.2200948, 6);
    // Cross-check against the textbook −[y log σ(z) + (1 − y) log(1 − σ(z))].
    expect(v).toBeCloseTo((softplus(-2) + softplus(-1)) / 2, 6);
  });

  it('is stable for large |logit|: logit 100 with label 0 gives 100, no Infinity/NaN', () => {
    // ℓ(100, 0) = 100 − 0 + log(1 + e^−100) = 100;  ℓ(−100, 1) = 0 + 100 + log(1 + e^−100) = 100
    // ℓ(100, 1) = 100 − 100 + ~0 = 0;               ℓ(−100, 0) = 0 + 0 + ~0 = 0
    expect(value(() => bceWithLogits(tf.tensor2d([[100]]), tf.tensor2d([[0]])))).toBeCloseTo(
      100,
      4,
    );
    const v = value(() =>
      bceWithLogits(tf.tensor2d([[100, -100, 100, -100]]), tf.tensor2d([[0, 1, 1, 0]])),
    );
    // mean = (100 + 100 + 0 + 0) / 4 = 50
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeCloseTo(50, 4);
  });

  it('weights: Σ w·ℓ / Σ w, and a 0/1 mask drops elements', () => {
    // w = [3, 1]: (3·0.1269280 + 1·0.3132617) / 4 = (0.3807841 + 0.3132617) / 4 = 0.1735115
    const weighted = value(() =>
      bceWithLogits(tf.tensor2d([[2, -1]]), tf.tensor2d([[1, 0]]), tf.tensor2d([[3, 1]])),
    );
    expect(weighted).toBeCloseTo(0.1735115, 6);
    // mask [0, 1] keeps only ℓ2 = 0.3132617
    const masked = value(() =>
      bceWithLogits(tf.tensor2d([[2, -1]]), tf.tensor2d([[1, 0]]), tf.tensor2d([[0, 1]])),
    );
    expect(masked).toBeCloseTo(0.3132617, 6);
    // an all-zero mask yields 0, not NaN
    const empty = value(() =>
      bceWithLogits(tf.tensor2d([[2, -1]]), tf.tensor2d([[1, 0]]), tf.tensor2d([[0, 0]])),
    );
    expect(empty).toBe(0);
  });

  it('gradient is (σ(z) − y) / N', () => {
    // z = [2, −1], y = [1, 0], N = 2: σ(2) = 0.8807971, σ(−1) = 0.2689414
    //   dz = [(0.8807971 − 1)/2, (0.2689414 − 0)/2] = [−0.0596015, 0.1344707]
    const g = tf.tidy(() =>
      tf.grad((z: tf.Tensor) => bceWithLogits(z as tf.Tensor2D, tf.tensor2d([[1, 0]])))(
        tf.tensor2d([[2, -1]]),
      ),
    );
    const d = Array.from(g.dataSync());
    g.dispose();
    expect(d[0]).toBeCloseTo(-0.0596015, 6);
    expect(d[1]).toBeCloseTo(0.1344707, 6);
  });

  it('names both shapes on a shape mismatch, and rejects non-2-D logits', () => {
    const z = tf.tensor2d([[1, 2]]);
    const y = tf.tensor2d([[1], [0]]);
    const w = tf.tensor2d([[1, 1, 1]]);
    const z1 = tf.tensor1d([1, 2]);
    expect(() => bceWithLogits(z, y)).toThrow(
      /labels shape \[2,1\] must equal logits shape \[1,2\]/,
    );
    expect(() => bceWithLogits(z, tf.tensor2d([[1, 0]]), w)).toThrow(
      /weights shape \[1,3\].*\[1,2\]/,
    );
    expect(() => bceWithLogits(z1 as unknown as tf.Tensor2D, z1 as unknown as tf.Tensor2D)).toThrow(
      /logits must be a rank-2 tensor/,
    );
    tf.dispose([z, y, w, z1]);
  });
});

describe('denoisingLoss (Eq. 6)', () => {
  it('additive (default): L_BCE + λ·L_z', () => {
    // 0.5 + 0.5·0.2 = 0.6
    expect(value(() => denoisingLoss(tf.scalar(0.5), tf.scalar(0.2), { lambda: 0.5 }))).toBeCloseTo(
      0.6,
      6,
    );
    // λ may exceed 1 in the additive form: 0.5 + 2·0.2 = 0.9
    expect(
      value(() => denoisingLoss(tf.scalar(0.5), tf.scalar(0.2), { lambda: 2, form: 'additive' })),
    ).toBeCloseTo(0.9, 6);
  });

  it('convex: (1 − λ)·L_BCE + λ·L_z', () => {
    // 0.75·0.5 + 0.25·0.2 = 0.375 + 0.05 = 0.425
    expect(
      value(() => denoisingLoss(tf.scalar(0.5), tf.scalar(0.2), { lambda: 0.25, form: 'convex' })),
    ).toBeCloseTo(0.425, 6);
  });

  it('validates lambda, form and scalar inputs', () => {
    const a = tf.scalar(0.5);
    const b = tf.scalar(0.2);
    const v = tf.tensor1d([1, 2]);
    expect(() => denoisingLoss(a, b, { lambda: -0.1 })).toThrow(
      /lambda must be a finite number >= 0, got -0.1/,
    );
    expect(() => denoisingLoss(a, b, { lambda: Number.NaN })).toThrow(/lambda/);
    expect(() => denoisingLoss(a, b, { lambda: 1.5, form: 'convex' })).toThrow(
      /lambda must be in \[0, 1\] for form 'convex', got 1.5/,
    );
    expect(() => denoisingLoss(a, b, { lambda: 0.5, form: 'sum' as never })).toThrow(
      /form must be/,
    );
    expect(() => denoisingLoss(v as unknown as tf.Scalar, b, { lambda: 0.5 })).toThrow(
      /lBce must be a scalar tensor, got shape \[2\]/,
    );
    tf.dispose([a, b, v]);
  });
});

describe('adversarialLoss (Eq. 7)', () => {
  it('equals −bce on the generated scores (−0.2200948 on the 1x2 example)', () => {
    const v = value(() => adversarialLoss(tf.tensor2d([[2, -1]]), tf.tensor2d([[1, 0]])));
    expect(v).toBeCloseTo(-0.2200948, 6);
  });

  it('its gradient is the negated BCE gradient: −(σ(z) − y)/N = [0.0596015, −0.1344707]', () => {
    const g = tf.tidy(() =>
      tf.grad((z: tf.Tensor) => adversarialLoss(z as tf.Tensor2D, tf.tensor2d([[1, 0]])))(
        tf.tensor2d([[2, -1]]),
      ),
    );
    const d = Array.from(g.dataSync());
    g.dispose();
    expect(d[0]).toBeCloseTo(0.0596015, 6);
    expect(d[1]).toBeCloseTo(-0.1344707, 6);
  });
});

describe('tensor hygiene', () => {
  it('leaves only the returned scalar behind, with and without a caller tidy (incl. gradients)', () => {
    const z = tf.tensor2d([[2, -1, 0.5]]);
    const y = tf.tensor2d([[1, 0, 1]]);
    const w = tf.tensor2d([[1, 2, 0]]);
    const before = tf.memory().numTensors;
    const lBce = bceWithLogits(z, y);
    const lZ = bceWithLogits(z, y, w);
    const outs = [lBce, lZ, adversarialLoss(z, y, w), denoisingLoss(lBce, lZ, { lambda: 0.3 })];
    // exactly one tensor per call
    expect(tf.memory().numTensors - before).toBe(outs.length);
    tf.tidy(() => {
      tf.grad((t: tf.Tensor) =>
        denoisingLoss(bceWithLogits(t as tf.Tensor2D, y), adversarialLoss(t as tf.Tensor2D, y), {
          lambda: 0.5,
          form: 'convex',
        }),
      )(z);
    });
    tf.dispose(outs);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([z, y, w]);
  });
});

// ---------------------------------------------------------------------------------------------
// README "## Losses" example
// ---------------------------------------------------------------------------------------------

/** Code without import lines, comments-only import markers and formatting. */
function normalize(code: string): string {
  return code
    .split('\n')
    .filter((line) => !/^\s*import\s/.test(line) && !/^\s*\/\/ README-EXAMPLE/.test(line))
    .join('\n')
    .replace(/\s+/g, '')
    .replace(/,([)\]}])/g, '$1');
}

function readmeExample(): string {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const match = /<!-- losses-example -->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (match?.[1] === undefined)
    throw new Error('README.md: no ```ts block after <!-- losses-example -->');
  return match[1];
}

function testExample(): string {
  const self = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const match = /\/\/ README-EXAMPLE-START\n([\s\S]*?)\/\/ README-EXAMPLE-END/.exec(self);
  if (match?.[1] === undefined) throw new Error('losses.test.ts: example markers not found');
  return match[1];
}

// Plain-JS references for the expected values of the example.
const jsBce = (z: number[], y: number[]): number =>
  z.reduce(
    (s, zi, i) => s + Math.max(zi, 0) - zi * (y[i] as number) + Math.log1p(Math.exp(-Math.abs(zi))),
    0,
  ) / z.length;
const jsSoftmaxKL = (xHat: number[][], x: number[][]): number => {
  const softmax = (r: number[]): number[] => {
    const e = r.map(Math.exp);
    const s = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / s);
  };
  let total = 0;
  x.forEach((row, b) => {
    const p = softmax(row);
    const q = softmax(xHat[b] as number[]);
    total += p.reduce((a, pi, i) => a + pi * Math.log(pi / (q[i] as number)), 0);
  });
  return total / x.length;
};

describe('README Losses example', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is the code below (kept in sync)', () => {
    expect(normalize(testExample())).toBe(normalize(readmeExample()));
  });

  it('runs: L_D at θ0, then L_adv + L_x after one Adam step on θ, and leaks nothing', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const tensorsBefore = tf.memory().numTensors;
    // README-EXAMPLE-START
    await tf.setBackend('cpu');
    // B = 2 lists of L = 3 candidates: labels y, real retriever scores x, synthetic scores x̂.
    const y = tf.tensor2d([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    const x = tf.tensor2d([
      [0.7, 0.4, 0.2],
      [0.3, 0.6, 0.5],
    ]);
    // In DNR x̂_φ = (1 − α)·y + α·f_φ(y, z); here a variable stands in for the generator's parameters φ.
    // (tf.tidy frees the initial values; variables survive it.)
    const xHat = tf.tidy(() =>
      tf.variable(
        tf.tensor2d([
          [0.9, 0.1, 0.2],
          [0.1, 0.8, 0.3],
        ]),
      ),
    );
    // A toy reranker q_θ with θ = {w, b}: one logit per candidate.
    const [w, b] = tf.tidy(() => [tf.variable(tf.scalar(1)), tf.variable(tf.scalar(0))]);
    const rerank = (s: tf.Tensor2D): tf.Tensor2D => tf.add(tf.mul(s, w), b);

    // Reranker step (Eq. 6): θ only, x̂ detached.
    const rerankerOpt = tf.train.adam(0.05);
    const lossD = rerankerOpt.minimize(
      () => {
        const lBce = bceWithLogits(rerank(x), y); // L_BCE on real scores
        const lZ = bceWithLogits(rerank(stopGradient(xHat)), y); // L_z on synthetic scores
        return denoisingLoss(lBce, lZ, { lambda: 0.5 }); // L_BCE + λ·L_z
      },
      true,
      [w, b],
    );

    // Generator step (Eq. 7 + L_x): φ only; gradients flow through the frozen reranker into x̂.
    const generatorOpt = tf.train.adam(0.01);
    const lossG = generatorOpt.minimize(
      () => tf.add(adversarialLoss(rerank(xHat), y), scoreDivergence('softmaxKL', xHat, x)),
      true,
      [xHat],
    );
    console.log(`L_D = ${lossD?.dataSync()[0]}, L_adv + L_x = ${lossG?.dataSync()[0]}`);
    tf.dispose([y, x, xHat, w, b, lossD, lossG].filter((t) => t !== null));
    rerankerOpt.dispose();
    generatorOpt.dispose();
    // README-EXAMPLE-END
    expect(tf.memory().numTensors).toBe(tensorsBefore);

    const match = /^L_D = (\S+), L_adv \+ L_x = (\S+)$/.exec(String(log.mock.calls[0]?.[0]));
    expect(match).not.toBeNull();
    const [lD, lG] = [Number(match?.[1]), Number(match?.[2])];
    const yJs = [1, 0, 0, 0, 1, 0];
    const xJs = [0.7, 0.4, 0.2, 0.3, 0.6, 0.5];
    const xHatJs = [0.9, 0.1, 0.2, 0.1, 0.8, 0.3];
    const lossDJs = (wv: number, bv: number): number =>
      jsBce(
        xJs.map((v) => wv * v + bv),
        yJs,
      ) +
      0.5 *
        jsBce(
          xHatJs.map((v) => wv * v + bv),
          yJs,
        );
    // L_D is the cost before the update, at θ0 = (w 1, b 0).
    expect(lD).toBeCloseTo(lossDJs(1, 0), 5);
    // Adam's first step moves each parameter by lr·sign(gradient) (m̂/√v̂ = ±1): signs by central differences.
    const h = 1e-4;
    const gw = lossDJs(1 + h, 0) - lossDJs(1 - h, 0);
    const gb = lossDJs(1, h) - lossDJs(1, -h);
    const [w1, b1] = [1 - 0.05 * Math.sign(gw), -0.05 * Math.sign(gb)];
    // Generator cost at the updated θ and the initial x̂: −bce(q_θ1(x̂), y) + softmaxKL(x̂, x).
    const expectedG =
      -jsBce(
        xHatJs.map((v) => w1 * v + b1),
        yJs,
      ) + jsSoftmaxKL([xHatJs.slice(0, 3), xHatJs.slice(3)], [xJs.slice(0, 3), xJs.slice(3)]);
    expect(lG).toBeCloseTo(expectedG, 4);
  });
});
